package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/store"
)

// The fuzz targets below send arbitrary bodies (and pagination arguments) to
// every endpoint that parses one, through the real router, authentication,
// codec and FSM, and check after each request that:
//   - the handler did not panic and the status is one the endpoint documents;
//   - the body is the documented JSON envelope, and an error's type matches
//     its status;
//   - nothing is half-stored: a refused request leaves the whole state (its
//     Snapshot) exactly as it was, a 201 adds exactly what it reports, and
//     what it reports is what was stored.

// fakePoints, fakeNode and fakeUsage embed their (nil) interfaces: none of
// the fuzzed endpoints should call more than the methods defined here, and
// one that does panics into a 500, which the checks report.
type fakePoints struct{ Points }

func (fakePoints) BucketPointCount(context.Context, string) (int64, error) { return 0, nil }
func (fakePoints) Announce(string) func()                                  { return func() {} }

type fakeNode struct{ Node }

func (fakeNode) Ready() error    { return nil }
func (fakeNode) Serving() bool   { return true }
func (fakeNode) KeyLease() error { return nil }

// ReadBarrier: a lone node is always current.
func (fakeNode) ReadBarrier(context.Context) error { return nil }

// fakeLimiter puts every organization on an unlimited plan.
type fakeLimiter struct{}

func (fakeLimiter) Allow(string) (store.Quota, bool) {
	return store.Quota{Limit: -1, Remaining: -1, Reset: time.Unix(1<<31, 0)}, true
}
func (fakeLimiter) Plan(string) (string, store.PlanLimits) {
	return store.PlanEnterprise, store.DefaultPlans[store.PlanEnterprise]
}
func (fakeLimiter) Used(string) int64 { return 0 }
func (fakeNode) ClusterStatus() any   { return map[string]any{"nodes": []any{}} }

// fakeUsage keeps key use in memory, as a node does between reports.
type fakeUsage struct {
	KeyUsage
	last sync.Map // key id -> time.Time
}

func (u *fakeUsage) Touch(keyID string, at time.Time) { u.last.Store(keyID, at) }

func (u *fakeUsage) LastUsed(keyID string) (time.Time, bool) {
	v, ok := u.last.Load(keyID)
	if !ok {
		return time.Time{}, false
	}
	return v.(time.Time), true
}

// fuzzEnv is a Server over a real in-memory state seeded with two
// organizations, eight buckets (one archived, one named "taken"), a write key
// and two sources.
type fuzzEnv struct {
	s     *Server
	state *store.State
	logs  *bytes.Buffer

	created int // resources added since the seed

	orgID, otherOrgID      string
	bucketID, archivedID   string
	adminKey, writeKey, op string
}

func newFuzzEnv(t testing.TB) *fuzzEnv {
	t.Helper()
	now := time.Now().UTC()
	e := &fuzzEnv{
		state: store.NewState(1 << 20), logs: &bytes.Buffer{},
		adminKey: secret.New(secret.AdminPrefix), writeKey: secret.New(secret.WritePrefix), op: secret.New(secret.OperatorPrefix),
	}
	applier := cluster.NewLocalApplier(e.state)
	s, err := New(Config{
		Meta: e.state, Applier: applier, Points: fakePoints{}, Node: fakeNode{}, Usage: &fakeUsage{}, Limiter: fakeLimiter{},
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	apply := func(cmd any) {
		t.Helper()
		if _, err := s.apply(cmd); err != nil {
			t.Fatalf("seeding %T: %v", cmd, err)
		}
	}
	adminRec := func(orgID, key string) store.APIKey {
		return store.APIKey{ID: objectid.New(now), Name: "admin", Type: store.KeyAdmin, Hash: secret.Hash(key),
			KeyPrefix: secret.DisplayPrefix(key), OrganizationID: orgID, CreatedAt: now}
	}
	org := store.Org{ID: objectid.New(now), Name: "default", Plan: store.PlanEnterprise, CreatedAt: now, UpdatedAt: now}
	e.orgID = org.ID
	apply(store.Bootstrap{Org: org, AdminKey: adminRec(org.ID, e.adminKey), OperatorTokenHash: secret.Hash(e.op)})
	other := store.Org{ID: objectid.New(now), Name: "other", Plan: store.PlanFree, CreatedAt: now, UpdatedAt: now}
	e.otherOrgID = other.ID
	apply(store.CreateOrg{Org: other, AdminKey: adminRec(other.ID, secret.New(secret.AdminPrefix))})

	bucket := func(name, status string) string {
		b := store.Bucket{ID: objectid.New(now), Name: name, OrganizationID: org.ID, RetentionDays: 30, Status: status, CreatedAt: now, UpdatedAt: now}
		apply(store.CreateBucket{Bucket: b})
		return b.ID
	}
	e.bucketID = bucket("weather", store.BucketActive)
	e.archivedID = bucket("archive", store.BucketArchived)
	for i := range 5 {
		bucket(fmt.Sprintf("taken-%d", i), store.BucketActive)
	}
	bucket("taken", store.BucketActive)
	apply(store.CreateKey{Key: store.APIKey{ID: objectid.New(now), Name: "writer", Type: store.KeyWrite, Hash: secret.Hash(e.writeKey),
		KeyPrefix: secret.DisplayPrefix(e.writeKey), OrganizationID: org.ID, BucketID: e.bucketID, CreatedAt: now}})
	for _, name := range []string{"station-1", "station-2"} {
		apply(store.CreateSource{Source: store.DataSource{ID: objectid.New(now), BucketID: e.bucketID, OrganizationID: org.ID, Name: name,
			Type: "sensor", Schema: map[string]store.Field{"temperature": {Type: "number"}}, Downsampling: true, Status: "active", CreatedAt: now, UpdatedAt: now}})
	}
	return e
}

// fuzzEnvFor returns the target's environment, rebuilt once creates have
// grown it enough to slow every snapshot down.
func fuzzEnvFor(t *testing.T, env **fuzzEnv) *fuzzEnv {
	if *env == nil || (*env).created > 50 {
		*env = newFuzzEnv(t)
	}
	(*env).logs.Reset()
	return *env
}

type header struct{ name, value string }

// do serves one in-memory request through the full dispatch path.
func (e *fuzzEnv) do(method, uri string, body []byte, hdrs ...header) (int, string, []byte) {
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, nil, nil)
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	for _, h := range hdrs {
		ctx.Request.Header.Set(h.name, h.value)
	}
	if body != nil {
		// As fasthttp hands it over with StreamRequestBody: dispatch reads
		// the body from the stream once the credentials are checked.
		ctx.Request.SetBodyStream(bytes.NewReader(body), len(body))
	}
	e.s.dispatch(&ctx)
	return ctx.Response.StatusCode(), string(ctx.Response.Header.ContentType()), slices.Clone(ctx.Response.Body())
}

// stateCounts is a point-in-time copy of the whole state (what Snapshot
// returns) and its sizes.
type stateCounts struct {
	snap                         any
	orgs, buckets, keys, sources int
}

func (e *fuzzEnv) counts(t testing.TB) stateCounts {
	t.Helper()
	c := stateCounts{snap: e.state.Snapshot()}
	v := reflect.ValueOf(c.snap)
	for _, f := range []struct {
		name string
		n    *int
	}{{"Orgs", &c.orgs}, {"Buckets", &c.buckets}, {"APIKeys", &c.keys}, {"Sources", &c.sources}} {
		fv := v.FieldByName(f.name)
		if fv.Kind() != reflect.Slice {
			t.Fatalf("store snapshot %T has no slice field %s: update counts", c.snap, f.name)
		}
		*f.n = fv.Len()
	}
	return c
}

func snapJSON(t testing.TB, snap any) string {
	var buf bytes.Buffer
	if err := store.WriteSnapshot(&buf, snap); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// reply is a response that passed the envelope checks.
type reply struct {
	status     int
	data       json.RawMessage
	errType    string
	message    string
	details    []Detail
	pagination *Pagination
}

// errorTypes lists the envelope error types each status may carry.
var errorTypes = map[int][]string{
	400: {typeValidation, typeBadRequest},
	401: {typeUnauthorized},
	403: {typeForbidden},
	404: {typeNotFound},
	405: {typeMethod},
	409: {typeConflict},
	413: {typeTooLarge},
	429: {typeTooMany},
	503: {typeUnavailable},
}

// check verifies status and envelope; detailRoot is where validation detail
// paths must start ("body" or "query").
func (e *fuzzEnv) check(t *testing.T, req string, status int, ctype string, body []byte, detailRoot string, allowed ...int) reply {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\n-> %d %s\n%s\nlogs:\n%s", req, status, body, fmt.Sprintf(format, args...), e.logs.String())
	}
	if !slices.Contains(allowed, status) {
		fail("status %d not in %v", status, allowed)
	}
	if ctype != "application/json" {
		fail("Content-Type %q", ctype)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		fail("response is not a JSON object: %v", err)
	}
	r := reply{status: status}
	if status < 300 {
		data, ok := env["data"]
		if !ok || !(bytes.HasPrefix(data, []byte("{")) || bytes.HasPrefix(data, []byte("["))) {
			fail(`success without an object or array "data"`)
		}
		r.data = data
		if md, ok := env["metadata"]; !ok || !bytes.HasPrefix(md, []byte("{")) {
			fail(`success without an object "metadata"`)
		}
		if _, ok := env["error"]; ok {
			fail(`success with an "error" field`)
		}
		if p, ok := env["pagination"]; ok {
			r.pagination = new(Pagination)
			if err := json.Unmarshal(p, r.pagination); err != nil {
				fail("pagination: %v", err)
			}
		}
		return r
	}
	if _, ok := env["data"]; ok {
		fail(`error with a "data" field`)
	}
	if err := json.Unmarshal(env["error"], &r.errType); err != nil {
		fail(`"error" is not a string: %v`, err)
	}
	if err := json.Unmarshal(env["message"], &r.message); err != nil || r.message == "" {
		fail(`"message" is not a non-empty string`)
	}
	if !slices.Contains(errorTypes[status], r.errType) {
		fail("error type %q does not match status %d (want one of %v)", r.errType, status, errorTypes[status])
	}
	if d, ok := env["details"]; ok {
		if err := json.Unmarshal(d, &r.details); err != nil {
			fail("details: %v", err)
		}
		if r.errType != typeValidation {
			fail("details on a %q", r.errType)
		}
		for _, dt := range r.details {
			if len(dt.Path) == 0 || dt.Path[0] != detailRoot || dt.Message == "" {
				fail("detail %+v: want a path under %q and a message", dt, detailRoot)
			}
		}
	}
	return r
}

// unchanged fails unless the state is byte-for-byte what it was.
func (e *fuzzEnv) unchanged(t *testing.T, req string, before stateCounts) {
	t.Helper()
	if after := e.counts(t); !reflect.DeepEqual(after.snap, before.snap) {
		t.Fatalf("%s\nrefused request changed the state:\nbefore %s\nafter  %s", req, snapJSON(t, before.snap), snapJSON(t, after.snap))
	}
}

// grew fails unless the state grew by exactly the given sizes.
func (e *fuzzEnv) grew(t *testing.T, req string, before stateCounts, orgs, buckets, keys, sources int) {
	t.Helper()
	after := e.counts(t)
	got := [4]int{after.orgs - before.orgs, after.buckets - before.buckets, after.keys - before.keys, after.sources - before.sources}
	if want := [4]int{orgs, buckets, keys, sources}; got != want {
		t.Fatalf("%s\nstate grew by (orgs, buckets, keys, sources) %v, want %v", req, got, want)
	}
	e.created++
}

func sameJSON(t *testing.T, req string, got json.RawMessage, stored any) {
	t.Helper()
	want, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s\nresponse data %s\nbut stored    %s", req, got, want)
	}
}

// checkStoredText checks what validation promises of a stored name.
func checkStoredText(t *testing.T, req, what, s string, minLen, maxLen int) {
	t.Helper()
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || strings.TrimSpace(s) != s || n < minLen || n > maxLen {
		t.Fatalf("%s\nstored %s %q breaks the rules (valid UTF-8, trimmed, %d..%d characters)", req, what, s, minLen, maxLen)
	}
}

// checkCreatedKey checks a key returned by a create: well formed, and
// authenticating as what the response says.
func (e *fuzzEnv) checkCreatedKey(t *testing.T, req string, raw json.RawMessage, orgID, bucketID string) createdKeyView {
	t.Helper()
	var k createdKeyView
	if err := json.Unmarshal(raw, &k); err != nil {
		t.Fatalf("%s\nkey: %v", req, err)
	}
	prefix := map[string]string{"admin": secret.AdminPrefix, "write": secret.WritePrefix, "read": secret.ReadPrefix}[k.Type]
	if prefix == "" || !strings.HasPrefix(k.Key, prefix) || !secret.WellFormed(k.Key) || k.KeyPrefix != k.Key[:secret.DisplayPrefixLen] {
		t.Fatalf("%s\nbad key %+v", req, k)
	}
	p, ok := e.state.Authenticate(secret.Hash(k.Key))
	want := store.Principal{KeyID: k.ID, OrgID: orgID, BucketID: bucketID, Type: store.KeyType(k.Type)}
	if !ok || p != want {
		t.Fatalf("%s\nnew key authenticates as %+v, %v; want %+v", req, p, ok, want)
	}
	checkStoredText(t, req, "key name", k.Name, 1, maxNameLen)
	return k
}

// Seed bodies shared by every target: not JSON, not an object, deep junk.
var junkBodies = []string{
	"", " ", "\n", "null", "true", "0", "-1", "1e999", `"name"`, "[]", `[{"name":"x"}]`, "{}",
	"{", "}", `{"name":}`, `{"name":"x"`, `{"name":"x",}`, `{name:"x"}`, `{'name':'x'}`,
	"\x00", "\xff\xfe{}", "\xef\xbb\xbf{}", `{"name":"x"} trailing`, `{"name":"x"}{"name":"y"}`,
	strings.Repeat("[", 1000) + strings.Repeat("]", 1000),
	`{"a":` + strings.Repeat(`{"a":`, 500) + "1" + strings.Repeat("}", 501),
	`{"__proto__":{"name":"x"},"constructor":null}`,
	`{"name":NaN}`, `{"name":Infinity}`, `{"name":"\ud800"}`, `{"name":"\u0000"}`,
}

func addSeeds(f *testing.F, bodies ...string) {
	for _, b := range append(slices.Clone(junkBodies), bodies...) {
		f.Add([]byte(b))
	}
}

// textSeeds are values for a name-like field, as JSON.
var textSeeds = []string{
	`"ok"`, `""`, `"   "`, `" padded "`, `null`, `123`, `true`, `["a"]`, `{"x":1}`,
	strconv.Quote(strings.Repeat("a", 100)), strconv.Quote(strings.Repeat("a", 101)),
	strconv.Quote(strings.Repeat("é", 100)), strconv.Quote(strings.Repeat("😀", 101)),
	`"日本語のバケット"`, `"a\u0301"`, `"tab\tand\nnewline"`, `"\u0000"`, `"\ud83d\ude00"`, `"\udfff"`, `"\"quoted\""`,
	`"\u2028\u2029"`, `"<script>alert(1)</script>"`,
}

var numberSeeds = []string{
	"0", "1", "30", "3650", "3651", "-1", "1.5", "30.0", "3e1", "1e2", "1e400", "-1e400", "1e-400",
	"9007199254740993", "18446744073709551616", `"30"`, "null", "true", "NaN", "-Inf", "[30]",
}

func FuzzCreateBucket(f *testing.F) {
	addSeeds(f,
		`{"name":"weather-2"}`,
		`{"name":"b","description":"d","retentionDays":90,"status":"archived"}`,
		`{"name":"taken"}`, `{"name":"  taken  "}`, `{"name":"taken","name":"fresh"}`,
		`{"name":"x","status":"ACTIVE"}`, `{"name":"x","status":"deleted"}`, `{"name":"x","status":null}`, `{"name":"x","status":1}`,
		`{"name":"x","description":`+strconv.Quote(strings.Repeat("d", 1001))+`}`,
		`{"name":"x","description":null,"retentionDays":null}`,
		`{"name":"x","extra":{"deep":[1,2,{"a":null}]},"organizationId":"000000000000000000000000","_id":"x"}`,
	)
	for _, v := range textSeeds {
		f.Add([]byte(`{"name":` + v + `}`))
	}
	for _, v := range numberSeeds {
		f.Add([]byte(`{"name":"r","retentionDays":` + v + `}`))
	}
	var env *fuzzEnv
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fuzzEnvFor(t, &env)
		req := fmt.Sprintf("POST /api/buckets %q", body)
		before := e.counts(t)
		status, ctype, resp := e.do("POST", "/api/buckets", body, header{"X-API-Key", e.adminKey})
		r := e.check(t, req, status, ctype, resp, "body", 201, 400, 409)
		if status != 201 {
			e.unchanged(t, req, before)
			return
		}
		e.grew(t, req, before, 0, 1, 0, 0)
		var got store.Bucket
		if err := json.Unmarshal(r.data, &got); err != nil {
			t.Fatal(err)
		}
		stored, err := e.state.Bucket(e.orgID, got.ID)
		if err != nil {
			t.Fatalf("%s\ncreated bucket not found: %v", req, err)
		}
		sameJSON(t, req, r.data, stored)
		checkStoredText(t, req, "name", stored.Name, 1, maxNameLen)
		checkStoredText(t, req, "description", stored.Description, 0, maxDescriptionLen)
		if !objectid.Valid(stored.ID) || stored.RetentionDays < 1 || stored.RetentionDays > maxRetentionDays ||
			!slices.Contains(bucketStatuses, stored.Status) {
			t.Fatalf("%s\nstored bucket breaks the rules: %+v", req, stored)
		}
	})
}

func FuzzUpdateBucket(f *testing.F) {
	addSeeds(f,
		`{"name":"renamed"}`, `{"name":"weather"}`, `{"name":"taken"}`, `{"name":" taken "}`,
		`{"description":""}`, `{"description":null}`, `{"status":"archived"}`, `{"status":"active"}`, `{"status":"gone"}`,
		`{"retentionDays":7}`, `{"name":null,"description":null,"retentionDays":null,"status":null}`,
		`{"unknown":1}`, `{"name":"a","description":"b","retentionDays":3650,"status":"active"}`,
		`{"name":"taken","description":"should not stick"}`, `{"description":"fine","retentionDays":0}`,
	)
	for _, v := range textSeeds {
		f.Add([]byte(`{"name":` + v + `}`))
		f.Add([]byte(`{"description":` + v + `}`))
	}
	for _, v := range numberSeeds {
		f.Add([]byte(`{"retentionDays":` + v + `}`))
	}
	var env *fuzzEnv
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fuzzEnvFor(t, &env)
		uri := "/api/buckets/" + e.bucketID
		req := fmt.Sprintf("PATCH %s %q", uri, body)
		before := e.counts(t)
		old, err := e.state.Bucket(e.orgID, e.bucketID)
		if err != nil {
			t.Fatal(err)
		}
		status, ctype, resp := e.do("PATCH", uri, body, header{"X-API-Key", e.adminKey})
		r := e.check(t, req, status, ctype, resp, "body", 200, 400, 409)
		if status != 200 {
			e.unchanged(t, req, before)
			return
		}
		e.grew(t, req, before, 0, 0, 0, 0)
		stored, err := e.state.Bucket(e.orgID, e.bucketID)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, req, r.data, stored)
		checkStoredText(t, req, "name", stored.Name, 1, maxNameLen)
		checkStoredText(t, req, "description", stored.Description, 0, maxDescriptionLen)
		if stored.ID != old.ID || stored.OrganizationID != old.OrganizationID || !stored.CreatedAt.Equal(old.CreatedAt) ||
			stored.UpdatedAt.Before(old.UpdatedAt) || stored.RetentionDays < 1 || stored.RetentionDays > maxRetentionDays ||
			!slices.Contains(bucketStatuses, stored.Status) {
			t.Fatalf("%s\nupdate broke the bucket: %+v -> %+v", req, old, stored)
		}
	})
}

func FuzzCreateKey(f *testing.F) {
	addSeeds(f,
		`{"name":"reader","type":"read"}`, `{"name":"writer","type":"write"}`, `{"name":"x","type":"admin"}`,
		`{"name":"x","type":"WRITE"}`, `{"name":"x"}`, `{"type":"read"}`, `{"name":"x","type":null}`, `{"name":"x","type":["read"]}`,
		`{"name":"x","type":"read","bucketId":"000000000000000000000000","key":"dakkio_a_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`,
	)
	for _, v := range textSeeds {
		f.Add([]byte(`{"type":"read","name":` + v + `}`))
	}
	var env *fuzzEnv
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fuzzEnvFor(t, &env)
		uri := "/api/buckets/" + e.bucketID + "/keys"
		req := fmt.Sprintf("POST %s %q", uri, body)
		before := e.counts(t)
		status, ctype, resp := e.do("POST", uri, body, header{"X-API-Key", e.adminKey})
		r := e.check(t, req, status, ctype, resp, "body", 201, 400)
		if status != 201 {
			e.unchanged(t, req, before)
			return
		}
		e.grew(t, req, before, 0, 0, 1, 0)
		k := e.checkCreatedKey(t, req, r.data, e.orgID, e.bucketID)
		if k.Type != "read" && k.Type != "write" {
			t.Fatalf("%s\ncreated a %q key on a bucket", req, k.Type)
		}
		keys, _ := e.state.Keys(e.bucketID, 0, 1<<30)
		i := slices.IndexFunc(keys, func(s store.APIKey) bool { return s.ID == k.ID })
		if i < 0 || keys[i].Name != k.Name || keys[i].KeyPrefix != k.KeyPrefix || keys[i].Hash != secret.Hash(k.Key) {
			t.Fatalf("%s\nstored key does not match the response %+v", req, k)
		}
	})
}

func FuzzCreateSource(f *testing.F) {
	sources := []string{
		`{"name":"s","schema":{"temperature":{"type":"number","unit":"C","description":"air"}}}`,
		`{"name":"s","type":"api","description":"d","downsampling":false,"schema":{"a":{"type":"string"},"b":{"type":"boolean"}}}`,
		`{"name":"station-1","schema":{"t":{"type":"number"}}}`,
		`{"name":" station-1 ","schema":{"t":{"type":"number"}}}`,
		`{"name":"s"}`, `{"name":"s","schema":null}`, `{"name":"s","schema":{}}`, `{"name":"s","schema":[]}`, `{"name":"s","schema":"number"}`,
		`{"name":"s","schema":{"t":"number"}}`, `{"name":"s","schema":{"t":null}}`, `{"name":"s","schema":{"t":{}}}`,
		`{"name":"s","schema":{"t":{"type":"integer"}}}`, `{"name":"s","schema":{"t":{"type":1}}}`,
		`{"name":"s","schema":{"1t":{"type":"number"}}}`, `{"name":"s","schema":{"t t":{"type":"number"}}}`,
		`{"name":"s","schema":{"":{"type":"number"}}}`, `{"name":"s","schema":{"température":{"type":"number"}}}`,
		`{"name":"s","schema":{"t":{"type":"number"},"t":{"type":"string"}}}`,
		`{"name":"s","schema":{"t":{"type":"number","unit":` + strconv.Quote(strings.Repeat("u", 51)) + `}}}`,
		`{"name":"s","schema":{"t":{"type":"number","unit":null,"description":5}}}`,
		`{"name":"s","schema":{"t\n":{"type":"number"}}}`, `{"name":"s","schema":{"_.-9":{"type":"boolean"}}}`,
		`{"name":"s","schema":{` + strconv.Quote(strings.Repeat("f", 64)) + `:{"type":"number"}}}`,
		`{"name":"s","schema":{` + strconv.Quote(strings.Repeat("f", 65)) + `:{"type":"number"}}}`,
		`{"name":"s","type":"robot","schema":{"t":{"type":"number"}}}`,
		`{"name":"s","downsampling":"yes","schema":{"t":{"type":"number"}}}`,
		`{"name":"s","downsampling":null,"schema":{"t":{"type":"number"}}}`,
	}
	var many []string
	for i := range 101 {
		many = append(many, fmt.Sprintf(`"f%d":{"type":"number"}`, i))
	}
	sources = append(sources, `{"name":"s","schema":{`+strings.Join(many, ",")+`}}`, `{"name":"s","schema":{`+strings.Join(many[:100], ",")+`}}`)
	for _, who := range []uint8{0, 1, 2} {
		for _, b := range append(slices.Clone(junkBodies), sources...) {
			f.Add([]byte(b), who)
		}
	}
	for _, v := range textSeeds {
		f.Add([]byte(`{"schema":{"t":{"type":"number"}},"name":`+v+`}`), uint8(0))
	}
	var env *fuzzEnv
	f.Fuzz(func(t *testing.T, body []byte, who uint8) {
		e := fuzzEnvFor(t, &env)
		// 0: admin key, active bucket; 1: the bucket's write key; 2: admin
		// key, archived bucket (never 201).
		bucketID, key, allowed := e.bucketID, e.adminKey, []int{201, 400, 409}
		switch who % 3 {
		case 1:
			key = e.writeKey
		case 2:
			bucketID, allowed = e.archivedID, []int{400, 409}
		}
		uri := "/api/buckets/" + bucketID + "/sources"
		req := fmt.Sprintf("POST %s (key %d) %q", uri, who%3, body)
		before := e.counts(t)
		status, ctype, resp := e.do("POST", uri, body, header{"X-API-Key", key})
		r := e.check(t, req, status, ctype, resp, "body", allowed...)
		if status != 201 {
			e.unchanged(t, req, before)
			return
		}
		e.grew(t, req, before, 0, 0, 0, 1)
		var got sourceView
		if err := json.Unmarshal(r.data, &got); err != nil {
			t.Fatal(err)
		}
		srcs, _ := e.state.Sources(bucketID, 0, 1<<30)
		i := slices.IndexFunc(srcs, func(s store.DataSource) bool { return s.ID == got.ID })
		if i < 0 {
			t.Fatalf("%s\ncreated source not stored", req)
		}
		stored := srcs[i]
		sameJSON(t, req, r.data, viewSource(stored))
		checkStoredText(t, req, "name", stored.Name, 1, maxNameLen)
		if stored.OrganizationID != e.orgID || len(stored.Schema) == 0 || len(stored.Schema) > maxSchemaFields ||
			!slices.Contains(sourceTypes, stored.Type) || stored.Status != "active" {
			t.Fatalf("%s\nstored source breaks the rules: %+v", req, stored)
		}
		for name, fd := range stored.Schema {
			if !fieldNameRE.MatchString(name) || !slices.Contains(fieldTypes, fd.Type) {
				t.Fatalf("%s\nstored schema field %q %+v breaks the rules", req, name, fd)
			}
		}
	})
}

func FuzzCreateOrg(f *testing.F) {
	addSeeds(f,
		`{"name":"acme"}`, `{"name":"acme","plan":"pro"}`, `{"name":"acme","plan":"enterprise"}`, `{"name":"acme","plan":"gold"}`,
		`{"name":"acme","plan":null}`, `{"name":"acme","plan":1}`, `{"name":"default"}`, `{"name":" other "}`, `{"plan":"free"}`,
		`{"name":"acme","_id":"000000000000000000000000","adminKey":"x"}`,
	)
	for _, v := range textSeeds {
		f.Add([]byte(`{"name":` + v + `}`))
	}
	var env *fuzzEnv
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fuzzEnvFor(t, &env)
		req := fmt.Sprintf("POST /api/operator/orgs %q", body)
		before := e.counts(t)
		status, ctype, resp := e.do("POST", "/api/operator/orgs", body, header{"X-Operator-Token", e.op})
		r := e.check(t, req, status, ctype, resp, "body", 201, 400, 409)
		if status != 201 {
			e.unchanged(t, req, before)
			return
		}
		e.grew(t, req, before, 1, 0, 1, 0)
		var got struct {
			Organization json.RawMessage `json:"organization"`
			AdminKey     json.RawMessage `json:"adminKey"`
		}
		if err := json.Unmarshal(r.data, &got); err != nil {
			t.Fatal(err)
		}
		var org store.Org
		if err := json.Unmarshal(got.Organization, &org); err != nil {
			t.Fatal(err)
		}
		stored, err := e.state.Org(org.ID)
		if err != nil {
			t.Fatalf("%s\ncreated org not found: %v", req, err)
		}
		sameJSON(t, req, got.Organization, stored)
		checkStoredText(t, req, "org name", stored.Name, 1, maxNameLen)
		if !slices.Contains(plans, stored.Plan) {
			t.Fatalf("%s\nstored plan %q", req, stored.Plan)
		}
		e.checkCreatedKey(t, req, got.AdminKey, org.ID, "")
	})
}

func FuzzUpdateOrg(f *testing.F) {
	addSeeds(f,
		`{"plan":"pro"}`, `{"plan":"enterprise"}`, `{"plan":"free"}`, `{"plan":"gold"}`, `{"plan":null}`, `{"plan":["pro"]}`,
		`{"name":"renamed"}`, `{"name":"other"}`, `{"name":"default"}`, `{"name":" default "}`, `{"name":"x","plan":"x"}`,
		`{"name":"default","plan":"pro"}`, `{"name":null,"plan":null}`, `{"other":1}`,
	)
	for _, v := range textSeeds {
		f.Add([]byte(`{"name":` + v + `}`))
	}
	var env *fuzzEnv
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fuzzEnvFor(t, &env)
		uri := "/api/operator/orgs/" + e.otherOrgID
		req := fmt.Sprintf("PATCH %s %q", uri, body)
		before := e.counts(t)
		old, _ := e.state.Org(e.otherOrgID)
		status, ctype, resp := e.do("PATCH", uri, body, header{"X-Operator-Token", e.op})
		r := e.check(t, req, status, ctype, resp, "body", 200, 400, 409)
		if status != 200 {
			e.unchanged(t, req, before)
			return
		}
		e.grew(t, req, before, 0, 0, 0, 0)
		stored, err := e.state.Org(e.otherOrgID)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, req, r.data, stored)
		checkStoredText(t, req, "org name", stored.Name, 1, maxNameLen)
		if stored.ID != old.ID || !stored.CreatedAt.Equal(old.CreatedAt) || !slices.Contains(plans, stored.Plan) {
			t.Fatalf("%s\nupdate broke the org: %+v -> %+v", req, old, stored)
		}
	})
}

func FuzzCreateAdminKey(f *testing.F) {
	addSeeds(f, `{"name":"ci"}`, `{"name":null}`, `{"type":"write"}`, `{"name":"ci","organizationId":"000000000000000000000000"}`)
	for _, v := range textSeeds {
		f.Add([]byte(`{"name":` + v + `}`))
	}
	var env *fuzzEnv
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fuzzEnvFor(t, &env)
		uri := "/api/operator/orgs/" + e.orgID + "/keys"
		req := fmt.Sprintf("POST %s %q", uri, body)
		before := e.counts(t)
		status, ctype, resp := e.do("POST", uri, body, header{"X-Operator-Token", e.op})
		r := e.check(t, req, status, ctype, resp, "body", 201, 400)
		if status != 201 {
			e.unchanged(t, req, before)
			return
		}
		e.grew(t, req, before, 0, 0, 1, 0)
		if k := e.checkCreatedKey(t, req, r.data, e.orgID, ""); k.Type != "admin" || k.OrganizationID != e.orgID {
			t.Fatalf("%s\ncreated %+v, want an admin key of the org", req, k)
		}
	})
}

// pageArg is what a limit or offset argument should parse to, judged
// independently of parsePage: a base-10 integer in [lo, hi].
func pageArg(s string, lo, hi int64) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= lo && n <= hi
}

func FuzzPagination(f *testing.F) {
	args := []string{
		"", "0", "1", "2", "100", "1000", "1001", "-1", "-0", "+5", "05", "1.0", "1e2", "0x10", " 5", "5 ", "five",
		"999999999", "1000000000", "1000000001", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
		"１", "5&limit=7", "5#x", "%", "\x00",
	}
	for i, l := range args {
		for j, o := range args {
			if (i+j)%3 == 0 || i == 0 || j == 0 {
				f.Add(uint8(i+j), l, o, true, true)
			}
		}
		f.Add(uint8(i), l, "", true, false)
		f.Add(uint8(i), "", l, false, true)
	}
	f.Add(uint8(0), "", "", false, false)
	var env *fuzzEnv
	f.Fuzz(func(t *testing.T, which uint8, limit, offset string, hasLimit, hasOffset bool) {
		e := fuzzEnvFor(t, &env)
		q := url.Values{}
		if hasLimit {
			q.Set("limit", limit)
		}
		if hasOffset {
			q.Set("offset", offset)
		}
		var (
			path  string
			auth  header
			total int
		)
		switch which % 4 {
		case 0:
			path, auth = "/api/buckets", header{"X-API-Key", e.adminKey}
			_, total = e.state.Buckets(e.orgID, 0, 0)
		case 1:
			path, auth = "/api/buckets/"+e.bucketID+"/keys", header{"X-API-Key", e.adminKey}
			_, total = e.state.Keys(e.bucketID, 0, 0)
		case 2:
			path, auth = "/api/buckets/"+e.bucketID+"/sources", header{"X-API-Key", e.writeKey}
			_, total = e.state.Sources(e.bucketID, 0, 0)
		case 3:
			path, auth = "/api/operator/orgs", header{"X-Operator-Token", e.op}
			_, total = e.state.Orgs(0, 0)
		}
		uri := path
		if len(q) > 0 {
			uri += "?" + q.Encode()
		}
		req := fmt.Sprintf("GET %s", uri)
		before := e.counts(t)
		status, ctype, resp := e.do("GET", uri, nil, auth)
		r := e.check(t, req, status, ctype, resp, "query", 200, 400)
		e.unchanged(t, req, before)

		wantLimit, wantOffset := int64(defaultLimit), int64(0)
		okLimit, okOffset := true, true
		if hasLimit {
			wantLimit, okLimit = pageArg(limit, 1, maxLimit)
		}
		if hasOffset {
			wantOffset, okOffset = pageArg(offset, 0, maxOffset)
		}
		if wantStatus := map[bool]int{true: 200, false: 400}[okLimit && okOffset]; status != wantStatus {
			t.Fatalf("%s (limit %q, offset %q)\n-> %d %s, want %d", req, limit, offset, status, resp, wantStatus)
		}
		if status == 400 {
			if r.errType != typeValidation || len(r.details) == 0 {
				t.Fatalf("%s\n-> %s: want a Validation Error naming the argument", req, resp)
			}
			return
		}
		var items []json.RawMessage
		if err := json.Unmarshal(r.data, &items); err != nil || items == nil {
			t.Fatalf("%s\ndata is not an array: %s", req, r.data)
		}
		wantN := max(0, min(int(wantLimit), total-int(wantOffset)))
		want := Pagination{Limit: int(wantLimit), Offset: int(wantOffset), Total: total, HasMore: int(wantOffset)+wantN < total}
		if r.pagination == nil || *r.pagination != want || len(items) != wantN {
			t.Fatalf("%s\ngot %d items, pagination %+v; want %d items, %+v", req, len(items), r.pagination, wantN, want)
		}
	})
}
