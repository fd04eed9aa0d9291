package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/internal/testnode"
)

// permOutcome is the expected answer to a request: a success status, or an error.
type permOutcome struct {
	status   int
	typ, msg string
	success  bool
	list     bool // a success answered with a list envelope
}

var (
	permOK        = permOutcome{status: http.StatusOK, success: true}
	permListed    = permOutcome{status: http.StatusOK, success: true, list: true}
	permCreated   = permOutcome{status: http.StatusCreated, success: true}
	permAdminOnly = permOutcome{status: http.StatusForbidden, typ: "Forbidden", msg: "This endpoint requires an admin API key"}
	permNoAccess  = permOutcome{status: http.StatusForbidden, typ: "Forbidden", msg: "API key does not have access to this bucket"}
	permNoWrite   = permOutcome{status: http.StatusForbidden, typ: "Forbidden", msg: "API key does not have write permission"}
	permHidden    = permOutcome{status: http.StatusNotFound, typ: "Not Found", msg: "Bucket not found"}
)

// permFixture is a set of resources for permission cases: in the initial
// organization a bucket "own" (which the write and read keys belong
// to) and a bucket "sibling"; in a second organization a bucket "foreign".
// Each bucket has a source and a spare read key ("victim") to delete.
type permFixture struct {
	n              *testnode.Node
	adminA, adminB string
	bucket         map[string]string // target name -> bucket id
	victim         map[string]string // bucket id -> key id
	keys           map[string]string // kind -> key
}

func newPermFixture(t *testing.T, n *testnode.Node, adminB string) *permFixture {
	t.Helper()
	f := &permFixture{n: n, adminA: n.AdminKey, adminB: adminB,
		bucket: map[string]string{}, victim: map[string]string{}, keys: map[string]string{"admin": n.AdminKey}}
	for target, admin := range map[string]string{"own": f.adminA, "sibling": f.adminA, "foreign": f.adminB} {
		id := mkBucket(t, n, admin, obj{"name": unique(target)})["_id"].(string)
		f.bucket[target] = id
		f.victim[id], _ = mkKey(t, n, admin, id, "read")
		mkSource(t, n, admin, id, "existing")
	}
	_, f.keys["write"] = mkKey(t, n, f.adminA, f.bucket["own"], "write")
	_, f.keys["read"] = mkKey(t, n, f.adminA, f.bucket["own"], "read")
	return f
}

// state renders the fixture's buckets with their keys and sources, and how
// many buckets each organization has, to show that a refused request changed
// nothing.
func (f *permFixture) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, admin := range []string{f.adminA, f.adminB} {
		_, p := wantList(t, asKey(t, f.n, admin, "GET", "/api/buckets", nil))
		fmt.Fprintf(&b, "buckets %d\n", p.Total)
	}
	for _, target := range []string{"own", "sibling", "foreign"} {
		admin, id := f.adminA, f.bucket[target]
		if target == "foreign" {
			admin = f.adminB
		}
		fmt.Fprintf(&b, "%s %v\n", target, dataObj(t, asKey(t, f.n, admin, "GET", "/api/buckets/"+id, nil), http.StatusOK))
		keys, _ := wantList(t, asKey(t, f.n, admin, "GET", "/api/buckets/"+id+"/keys", nil))
		for _, k := range keys {
			delete(k, "lastUsedAt")
		}
		sources, _ := wantList(t, asKey(t, f.n, admin, "GET", "/api/buckets/"+id+"/sources", nil))
		fmt.Fprintf(&b, "  keys %v\n  sources %v\n", keys, sources)
	}
	return b.String()
}

// permEndpoint is one metadata endpoint; path gets the target bucket and a
// key id in it.
type permEndpoint struct {
	name   string
	method string
	path   func(bucketID, keyID string) string
	body   func() any
	want   map[string]permOutcome // "<key kind>/<target>"
}

func bucketRoute(suffix string) func(string, string) string {
	return func(b, _ string) string { return "/api/buckets/" + b + suffix }
}

// adminOnlyRow is the row of an endpoint only admin keys may use.
func adminOnlyRow(success permOutcome) map[string]permOutcome {
	return map[string]permOutcome{
		"admin/own": success, "admin/sibling": success, "admin/foreign": permHidden,
		"write/own": permAdminOnly, "write/sibling": permAdminOnly, "write/foreign": permAdminOnly,
		"read/own": permAdminOnly, "read/sibling": permAdminOnly, "read/foreign": permAdminOnly,
	}
}

var permEndpoints = []permEndpoint{
	{"list buckets", "GET", func(string, string) string { return "/api/buckets" }, nil,
		map[string]permOutcome{"admin/org": permListed, "write/org": permAdminOnly, "read/org": permAdminOnly}},
	{"create bucket", "POST", func(string, string) string { return "/api/buckets" },
		func() any { return obj{"name": unique("new")} },
		map[string]permOutcome{"admin/org": permCreated, "write/org": permAdminOnly, "read/org": permAdminOnly}},
	{"get bucket", "GET", bucketRoute(""), nil, adminOnlyRow(permOK)},
	{"patch bucket", "PATCH", bucketRoute(""), func() any { return obj{"description": "changed"} }, adminOnlyRow(permOK)},
	{"delete bucket", "DELETE", bucketRoute(""), nil, adminOnlyRow(permOK)},
	{"list keys", "GET", bucketRoute("/keys"), nil, adminOnlyRow(permListed)},
	{"create key", "POST", bucketRoute("/keys"), func() any { return obj{"name": "new", "type": "read"} }, adminOnlyRow(permCreated)},
	{"delete key", "DELETE", func(b, k string) string { return "/api/buckets/" + b + "/keys/" + k }, nil, adminOnlyRow(permOK)},
	{"create source", "POST", bucketRoute("/sources"),
		func() any { return obj{"name": unique("src"), "schema": obj{"v": obj{"type": "number"}}} },
		map[string]permOutcome{
			"admin/own": permCreated, "admin/sibling": permCreated, "admin/foreign": permHidden,
			"write/own": permCreated, "write/sibling": permNoAccess, "write/foreign": permNoAccess,
			"read/own": permNoWrite, "read/sibling": permNoAccess, "read/foreign": permNoAccess,
		}},
	{"list sources", "GET", bucketRoute("/sources"), nil,
		map[string]permOutcome{
			"admin/own": permListed, "admin/sibling": permListed, "admin/foreign": permHidden,
			"write/own": permListed, "write/sibling": permNoAccess, "write/foreign": permNoAccess,
			"read/own": permListed, "read/sibling": permNoAccess, "read/foreign": permNoAccess,
		}},
}

const missingBucket = "0123456789abcdef01234567"

func TestE2EPermissions(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	_, adminB := mkOrg(t, n, "other-org")

	// Refused requests change nothing (each case checks it), so they share
	// one fixture; a delete that succeeds gets a fresh one.
	shared := newPermFixture(t, n, adminB)
	for _, e := range permEndpoints {
		for _, kind := range []string{"admin", "write", "read"} {
			for _, target := range []string{"org", "own", "sibling", "foreign"} {
				want, ok := e.want[kind+"/"+target]
				if !ok {
					continue
				}
				t.Run(e.name+"/"+kind+"/"+target, func(t *testing.T) {
					f := shared
					if e.method == "DELETE" && want.success {
						f = newPermFixture(t, n, adminB)
					}
					bucketID := f.bucket[target]
					if target == "org" {
						bucketID = f.bucket["own"]
					}
					var body any
					if e.body != nil {
						body = e.body()
					}
					key := f.keys[kind]
					before := f.state(t)
					r := asKey(t, n, key, e.method, e.path(bucketID, f.victim[bucketID]), body)
					switch {
					case want.list:
						wantList(t, r)
						return
					case want.success:
						wantData(t, r, want.status)
						return
					}
					wantError(t, r, want.status, want.typ, want.msg)
					if s := f.state(t); s != before {
						t.Errorf("refused request changed state:\nbefore:\n%s\nafter:\n%s", before, s)
					}
					// A refused request for a bucket that exists answers
					// exactly as one for a bucket that does not.
					if target == "sibling" || target == "foreign" {
						ghost := asKey(t, n, key, e.method, e.path(missingBucket, missingBucket), body)
						if ghost.StatusCode != r.StatusCode || !bytes.Equal(ghost.Body, r.Body) {
							t.Errorf("missing bucket answers %d %s, existing one %d %s", ghost.StatusCode, ghost.Body, r.StatusCode, r.Body)
						}
					}
				})
			}
		}
	}

	t.Run("effects of permOK requests", func(t *testing.T) {
		f := newPermFixture(t, n, adminB)
		own := f.bucket["own"]
		src := mkSource(t, n, f.keys["write"], own, "by-write-key")
		wantValues(t, "source", src, obj{"bucketId": own})
		items, _ := wantList(t, asKey(t, n, f.keys["read"], "GET", "/api/buckets/"+own+"/sources", nil))
		if len(items) != 2 {
			t.Errorf("read key lists %d sources, want 2", len(items))
		}
		// The second organization's admin key is as blind to the first's
		// buckets as the first's is to the second's.
		wantError(t, asKey(t, n, adminB, "GET", "/api/buckets/"+own, nil), http.StatusNotFound, "Not Found", "Bucket not found")
		wantError(t, asKey(t, n, adminB, "DELETE", "/api/buckets/"+own+"/keys/"+f.victim[own], nil), http.StatusNotFound, "Not Found", "Bucket not found")
		// Nor can it reach another organization's key through a bucket of
		// its own: that key is as unknown as one never made.
		foreign := f.bucket["foreign"]
		before := f.state(t)
		r := asKey(t, n, f.adminA, "DELETE", "/api/buckets/"+own+"/keys/"+f.victim[foreign], nil)
		wantError(t, r, http.StatusNotFound, "Not Found", "API key not found")
		ghost := asKey(t, n, f.adminA, "DELETE", "/api/buckets/"+own+"/keys/"+missingBucket, nil)
		if ghost.StatusCode != r.StatusCode || !bytes.Equal(ghost.Body, r.Body) {
			t.Errorf("unknown key answers %d %s, another organization's %d %s", ghost.StatusCode, ghost.Body, r.StatusCode, r.Body)
		}
		if s := f.state(t); s != before {
			t.Errorf("refused delete changed state:\nbefore:\n%s\nafter:\n%s", before, s)
		}
	})

	t.Run("unauthenticated", func(t *testing.T) {
		f := newPermFixture(t, n, adminB)
		own := f.bucket["own"]
		deletedID, deleted := mkKey(t, n, f.adminA, own, "write")
		dataObj(t, asKey(t, n, f.adminA, "DELETE", "/api/buckets/"+own+"/keys/"+deletedID, nil), http.StatusOK)
		gone := mkBucket(t, n, f.adminA, obj{"name": unique("gone")})["_id"].(string)
		_, orphan := mkKey(t, n, f.adminA, gone, "read")
		dataObj(t, asKey(t, n, f.adminA, "DELETE", "/api/buckets/"+gone, nil), http.StatusOK)
		admin := f.adminA
		creds := []struct{ name, key string }{
			{"missing", ""},
			{"malformed", "not-a-key"},
			{"prefix only", "dakkio_a_"},
			{"too short", "dakkio_w_abc123"},
			{"unknown prefix", "dakkio_x_" + admin[9:]},
			{"bearer scheme", "Bearer " + admin},
			{"non-alphanumeric", admin[:len(admin)-1] + "-"},
			{"unknown admin key", secret.New(secret.AdminPrefix)},
			{"unknown write key", secret.New(secret.WritePrefix)},
			{"admin key with a changed character", admin[:len(admin)-1] + otherKeyChar(admin[len(admin)-1])},
			{"admin key with another prefix", secret.WritePrefix + admin[9:]},
			{"deleted key", deleted},
			{"key of a deleted bucket", orphan},
			{"operator token", n.OperatorToken},
		}
		before := f.state(t)
		for _, e := range permEndpoints {
			for _, c := range creds {
				t.Run(e.name+"/"+c.name, func(t *testing.T) {
					var body any
					if e.body != nil {
						body = e.body()
					}
					r := asKey(t, n, c.key, e.method, e.path(own, f.victim[own]), body)
					wantError(t, r, http.StatusUnauthorized, "Unauthorized", "Invalid or missing API key")
					var env map[string]any
					_ = json.Unmarshal(r.Body, &env)
					if len(env) != 2 {
						t.Errorf("body = %s, want only error and message", r.Body)
					}
				})
			}
		}
		// Authentication comes first: a request without a valid key learns
		// nothing about its body or the ids in its path.
		t.Run("bad body without a key", func(t *testing.T) {
			r := asKey(t, n, "", "POST", "/api/buckets", `{"name":`)
			wantError(t, r, http.StatusUnauthorized, "Unauthorized", "Invalid or missing API key")
		})
		t.Run("malformed id without a key", func(t *testing.T) {
			r := asKey(t, n, "", "GET", "/api/buckets/123", nil)
			wantError(t, r, http.StatusUnauthorized, "Unauthorized", "Invalid or missing API key")
		})
		t.Run("empty header", func(t *testing.T) {
			r := send(t, n.Admin, "GET", "/api/buckets", nil, http.Header{"X-Api-Key": {""}})
			wantError(t, r, http.StatusUnauthorized, "Unauthorized", "Invalid or missing API key")
		})
		t.Run("operator token header instead of a key", func(t *testing.T) {
			r := send(t, n.Operator, "GET", "/api/buckets", nil, nil)
			wantError(t, r, http.StatusUnauthorized, "Unauthorized", "Invalid or missing API key")
		})
		if s := f.state(t); s != before {
			t.Errorf("unauthenticated requests changed state:\nbefore:\n%s\nafter:\n%s", before, s)
		}
	})
}

// otherKeyChar returns a different key-alphabet character than c.
func otherKeyChar(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}
