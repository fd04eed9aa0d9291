package httpapi_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
)

// The end-to-end tests talk HTTP to real nodes started by testnode, through
// client.Do, and check the raw answers against docs/api.md: status, envelope,
// exact field sets and values.

var (
	idRE   = regexp.MustCompile(`^[0-9a-f]{24}$`)
	timeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?Z$`)
)

// obj is a decoded JSON object; numbers are float64.
type obj = map[string]any

// detail is one entry of an error envelope's details.
type detail struct {
	Path    []any  `json:"path"`
	Message string `json:"message"`
}

// send issues a request through c and returns the answer whatever its status.
// body is nil (none), a string or []byte (sent as is), or a value sent as JSON.
// header entries replace c's defaults; an entry with no values suppresses one.
func send(t testing.TB, c *client.Client, method, path string, body any, header http.Header) *client.RawResponse {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatalf("cannot encode request body: %v", err)
		}
	}
	r, err := c.Do(t.Context(), method, path, raw, header)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// keyHeader sends key as X-API-Key; "" sends no key at all.
func keyHeader(key string) http.Header {
	if key == "" {
		return http.Header{"X-Api-Key": nil}
	}
	return http.Header{"X-Api-Key": {key}}
}

// asKey sends a request authenticated by key ("" for none).
func asKey(t testing.TB, n *testnode.Node, key, method, path string, body any) *client.RawResponse {
	t.Helper()
	return send(t, client.New(n.URL), method, path, body, keyHeader(key))
}

// asOperator sends a request with the node's operator token.
func asOperator(t testing.TB, n *testnode.Node, method, path string, body any) *client.RawResponse {
	t.Helper()
	return send(t, n.Operator, method, path, body, nil)
}

// envelopeKeys decodes r's body as a JSON object and returns its members.
func envelopeKeys(t testing.TB, r *client.RawResponse) map[string]json.RawMessage {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return env
}

// wantData checks a success answer (status, envelope of exactly data and
// metadata, metadata an object) and returns its data.
func wantData(t testing.TB, r *client.RawResponse, status int) json.RawMessage {
	t.Helper()
	return checkEnvelope(t, r, status, false)
}

func checkEnvelope(t testing.TB, r *client.RawResponse, status int, list bool) json.RawMessage {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", r.StatusCode, status, r.Body)
	}
	env := envelopeKeys(t, r)
	want := []string{"data", "metadata"}
	if list {
		want = append(want, "pagination")
	}
	if got := sortedKeys(env); !slices.Equal(got, sortedStrings(want)) {
		t.Fatalf("envelope members = %v, want %v; body %s", got, sortedStrings(want), r.Body)
	}
	var md map[string]any
	if err := json.Unmarshal(env["metadata"], &md); err != nil || md == nil {
		t.Fatalf("metadata = %s, want an object", env["metadata"])
	}
	return env["data"]
}

// pagination is the list envelope's page description.
type pagination struct {
	Limit   int  `json:"limit"`
	Offset  int  `json:"offset"`
	Total   int  `json:"total"`
	HasMore bool `json:"hasMore"`
}

// wantList checks a 200 list answer and returns its items and pagination.
func wantList(t testing.TB, r *client.RawResponse) ([]obj, pagination) {
	t.Helper()
	data := checkEnvelope(t, r, http.StatusOK, true)
	var items []obj
	if err := json.Unmarshal(data, &items); err != nil || items == nil {
		t.Fatalf("data = %s, want an array", data)
	}
	var env struct {
		Pagination map[string]json.RawMessage `json:"pagination"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(env.Pagination); !slices.Equal(got, []string{"hasMore", "limit", "offset", "total"}) {
		t.Fatalf("pagination members = %v", got)
	}
	var p struct {
		Pagination pagination `json:"pagination"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	return items, p.Pagination
}

// asObj decodes a JSON object.
func asObj(t testing.TB, raw json.RawMessage) obj {
	t.Helper()
	var o obj
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		t.Fatalf("want a JSON object, got %s", raw)
	}
	return o
}

// dataObj checks a success answer and returns its data as an object.
func dataObj(t testing.TB, r *client.RawResponse, status int) obj {
	t.Helper()
	return asObj(t, wantData(t, r, status))
}

// wantError checks an error answer: status, an envelope of error, message and
// optionally details, with exactly this type and message. It returns the details.
func wantError(t testing.TB, r *client.RawResponse, status int, typ, msg string) []detail {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", r.StatusCode, status, r.Body)
	}
	env := envelopeKeys(t, r)
	for k := range env {
		if k != "error" && k != "message" && k != "details" {
			t.Errorf("unexpected envelope member %q in %s", k, r.Body)
		}
	}
	var e struct {
		Error   string   `json:"error"`
		Message string   `json:"message"`
		Details []detail `json:"details"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("cannot decode error envelope: %v: %s", err, r.Body)
	}
	if e.Error != typ || e.Message != msg {
		t.Fatalf("error = %q %q, want %q %q; body %s", e.Error, e.Message, typ, msg, r.Body)
	}
	return e.Details
}

// wantDetail checks that details hold an entry at path, with a message
// containing msg.
func wantDetail(t testing.TB, details []detail, msg string, path ...any) {
	t.Helper()
	for _, d := range details {
		if reflect.DeepEqual(d.Path, path) && strings.Contains(d.Message, msg) {
			return
		}
	}
	t.Errorf("no detail at %v with message containing %q in %+v", path, msg, details)
}

// wantFields checks that o has exactly the named members.
func wantFields(t testing.TB, what string, o obj, names ...string) {
	t.Helper()
	if got, want := sortedKeys(o), sortedStrings(names); !slices.Equal(got, want) {
		t.Errorf("%s members = %v, want %v", what, got, want)
	}
}

// wantID checks that o[field] is a 24-character lowercase hex id and returns it.
func wantID(t testing.TB, o obj, field string) string {
	t.Helper()
	s, _ := o[field].(string)
	if !idRE.MatchString(s) {
		t.Errorf("%s = %v, want 24 lowercase hex characters", field, o[field])
	}
	return s
}

// wantIDTime checks that id's leading 4 bytes are the Unix seconds of at,
// as in a MongoDB ObjectId.
func wantIDTime(t testing.TB, id string, at time.Time) {
	t.Helper()
	secs, err := strconv.ParseUint(id[:min(8, len(id))], 16, 32)
	if err != nil || int64(secs) != at.Unix() {
		t.Errorf("id %s encodes second %d, want %d (%v)", id, secs, at.Unix(), at)
	}
}

// wantTime checks that o[field] is a UTC timestamp ending in Z without
// trailing zeros, and returns it.
func wantTime(t testing.TB, o obj, field string) time.Time {
	t.Helper()
	s, _ := o[field].(string)
	if !timeRE.MatchString(s) {
		t.Errorf("%s = %v, want a UTC RFC 3339 timestamp ending in Z", field, o[field])
		return time.Time{}
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Errorf("%s = %q: %v", field, s, err)
	}
	return ts
}

// wantValues checks o's members against want (JSON numbers as float64).
func wantValues(t testing.TB, what string, o obj, want obj) {
	t.Helper()
	for k, v := range want {
		if !reflect.DeepEqual(o[k], v) {
			t.Errorf("%s.%s = %#v, want %#v", what, k, o[k], v)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// unique returns prefix with a random suffix, for names that must not clash
// with other cases on the same node.
func unique(prefix string) string {
	return prefix + "-" + rand.Text()[:10]
}

// mkBucket creates a bucket with the given body (a name is enough) and returns it.
func mkBucket(t testing.TB, n *testnode.Node, key string, body obj) obj {
	t.Helper()
	return dataObj(t, asKey(t, n, key, "POST", "/api/buckets", body), http.StatusCreated)
}

// mkKey creates a write or read key for a bucket and returns its id and the key.
func mkKey(t testing.TB, n *testnode.Node, adminKey, bucketID, typ string) (id, key string) {
	t.Helper()
	d := dataObj(t, asKey(t, n, adminKey, "POST", "/api/buckets/"+bucketID+"/keys", obj{"name": unique(typ), "type": typ}), http.StatusCreated)
	return d["_id"].(string), d["key"].(string)
}

// mkSource creates a data source with a one-field schema and returns it.
func mkSource(t testing.TB, n *testnode.Node, key, bucketID, name string) obj {
	t.Helper()
	body := obj{"name": name, "schema": obj{"temperature": obj{"type": "number", "unit": "celsius"}}}
	return dataObj(t, asKey(t, n, key, "POST", "/api/buckets/"+bucketID+"/sources", body), http.StatusCreated)
}

// mkOrg creates an organization on the enterprise plan, whose monthly call
// allowance no test can exhaust, and returns its id and first admin key.
func mkOrg(t testing.TB, n *testnode.Node, name string) (id, adminKey string) {
	t.Helper()
	d := dataObj(t, asOperator(t, n, "POST", "/api/operator/orgs", obj{"name": name, "plan": "enterprise"}), http.StatusCreated)
	return d["organization"].(obj)["_id"].(string), d["adminKey"].(obj)["key"].(string)
}

// world renders everything the given admin keys can see, plus the operator's
// list of organizations, so that a test can show a failed request changed
// nothing. Key usage times are left out: every authenticated request moves them.
func world(t testing.TB, n *testnode.Node, adminKeys ...string) string {
	t.Helper()
	var b strings.Builder
	orgs, _ := wantList(t, asOperator(t, n, "GET", "/api/operator/orgs?limit=1000", nil))
	fmt.Fprintf(&b, "orgs %v\n", orgs)
	for _, k := range adminKeys {
		buckets, _ := wantList(t, asKey(t, n, k, "GET", "/api/buckets?limit=1000", nil))
		for _, bk := range buckets {
			id := bk["_id"].(string)
			fmt.Fprintf(&b, "bucket %v\n", bk)
			keys, _ := wantList(t, asKey(t, n, k, "GET", "/api/buckets/"+id+"/keys?limit=1000", nil))
			for _, key := range keys {
				delete(key, "lastUsedAt")
			}
			fmt.Fprintf(&b, "  keys %v\n", keys)
			sources, _ := wantList(t, asKey(t, n, k, "GET", "/api/buckets/"+id+"/sources?limit=1000", nil))
			fmt.Fprintf(&b, "  sources %v\n", sources)
		}
	}
	return b.String()
}

// unchanged fails if the world differs from before.
func unchanged(t testing.TB, n *testnode.Node, before string, adminKeys ...string) {
	t.Helper()
	if after := world(t, n, adminKeys...); after != before {
		t.Errorf("state changed by a failed request:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
