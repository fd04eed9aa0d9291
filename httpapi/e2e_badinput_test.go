package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
)

// badCase is a request the server must refuse without changing anything.
type badCase struct {
	name         string
	method, path string
	body         any
	key          string // X-API-Key; "" means the initial admin key (operator paths use the token)
	status       int
	typ, msg     string
	detailPath   []any // when set, details must hold an entry at this path...
	detailMsg    string
}

func (c badCase) run(t *testing.T, n *testnode.Node, worldKeys ...string) {
	t.Helper()
	before := world(t, n, worldKeys...)
	var r *client.RawResponse
	switch {
	case c.key != "":
		r = asKey(t, n, c.key, c.method, c.path, c.body)
	case strings.HasPrefix(c.path, "/api/operator/"):
		r = asOperator(t, n, c.method, c.path, c.body)
	default:
		r = asKey(t, n, n.AdminKey, c.method, c.path, c.body)
	}
	details := wantError(t, r, c.status, c.typ, c.msg)
	if c.detailPath != nil {
		wantDetail(t, details, c.detailMsg, c.detailPath...)
	}
	unchanged(t, n, before, worldKeys...)
}

const (
	typeValidation = "Validation Error"
	invalidBody    = "Invalid request body"
	notJSON        = "Request body is not valid JSON"
)

// badField is a Validation Error case of the request body with one detail.
func badField(name, method, path string, body any, msg string, detailPath ...any) badCase {
	return badCase{name: name, method: method, path: path, body: body, status: http.StatusBadRequest,
		typ: typeValidation, msg: invalidBody, detailPath: append([]any{"body"}, detailPath...), detailMsg: msg}
}

func badJSON(name, method, path, body string) badCase {
	return badCase{name: name, method: method, path: path, body: body, status: http.StatusBadRequest, typ: "Bad Request", msg: notJSON}
}

func TestE2EBadInput(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	admin := n.AdminKey
	otherOrg, adminB := mkOrg(t, n, "other-org")
	taken := mkBucket(t, n, admin, obj{"name": "taken"})["_id"].(string)
	spare := mkBucket(t, n, admin, obj{"name": "spare"})["_id"].(string)
	archived := mkBucket(t, n, admin, obj{"name": "cold", "status": "archived"})["_id"].(string)
	mkSource(t, n, admin, taken, "dup-src")
	keyID, _ := mkKey(t, n, admin, taken, "read")
	_, archivedWriteKey := mkKey(t, n, admin, archived, "write")
	gone := mkBucket(t, n, admin, obj{"name": "gone"})["_id"].(string)
	dataObj(t, asKey(t, n, admin, "DELETE", "/api/buckets/"+gone, nil), http.StatusOK)

	buckets := "/api/buckets"
	bucket := buckets + "/" + taken
	keys := bucket + "/keys"
	sources := bucket + "/sources"
	orgs := "/api/operator/orgs"
	schema := obj{"temperature": obj{"type": "number"}}
	long := strings.Repeat("x", 101)

	// Refused requests change nothing (each case checks it), so their groups
	// run in parallel; the requests that succeed come after.
	t.Run("refused", func(t *testing.T) {
		t.Run("unparsable JSON", func(t *testing.T) {
			t.Parallel()
			for _, c := range []badCase{
				badJSON("truncated", "POST", buckets, `{"name":`),
				badJSON("unquoted member", "POST", buckets, `{name: "x"}`),
				badJSON("trailing garbage", "POST", buckets, `{"name":"x"} y`),
				badJSON("trailing comma", "POST", buckets, `{"name":"x",}`),
				badJSON("single quotes", "POST", buckets, `{'name':'x'}`),
				badJSON("empty body", "POST", buckets, ""),
				badJSON("lone high surrogate", "POST", buckets, `{"name":"\ud800x"}`),
				badJSON("lone low surrogate", "POST", buckets, `{"name":"a\uDC00"}`),
				badJSON("surrogates reversed", "POST", buckets, `{"name":"\udc00\ud800"}`),
				badJSON("lone surrogate in a batch", "POST", "/api/data/batch", `{"bucketId":"`+taken+`","dataPoints":[{"dataSourceId":"x","values":{"label":"\ud83d"}}]}`),
				badJSON("patch bucket", "PATCH", bucket, `{"description":`),
				badJSON("create key", "POST", keys, `not json`),
				badJSON("create source", "POST", sources, `{"name":"s","schema":{`),
				badJSON("create org", "POST", orgs, `{`),
				badJSON("patch org", "PATCH", orgs+"/"+otherOrg, `{"plan"}`),
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, n, admin, adminB) })
			}
		})

		t.Run("non-object JSON", func(t *testing.T) {
			t.Parallel()
			for _, c := range []badCase{
				badField("array", "POST", buckets, `[]`, "Expected object, received array"),
				badField("array of objects", "POST", buckets, `[{"name":"x"}]`, "Expected object, received array"),
				badField("string", "POST", buckets, `"x"`, "Expected object, received string"),
				badField("number", "POST", buckets, `42`, "Expected object, received number"),
				badField("null", "POST", buckets, `null`, "Expected object, received null"),
				badField("boolean", "POST", buckets, `true`, "Expected object, received boolean"),
				badField("patch bucket", "PATCH", bucket, `[]`, "Expected object, received array"),
				badField("create key", "POST", keys, `null`, "Expected object, received null"),
				badField("create source", "POST", sources, `[]`, "Expected object, received array"),
				badField("create org", "POST", orgs, `"acme"`, "Expected object, received string"),
				badField("patch org", "PATCH", orgs+"/"+otherOrg, `1`, "Expected object, received number"),
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, n, admin, adminB) })
			}
		})

		t.Run("bucket fields", func(t *testing.T) {
			t.Parallel()
			for _, c := range []badCase{
				badField("name missing", "POST", buckets, obj{"description": "x"}, "Required", "name"),
				badField("name null", "POST", buckets, obj{"name": nil}, "received null", "name"),
				badField("name number", "POST", buckets, obj{"name": 5}, "Expected string, received number", "name"),
				badField("name array", "POST", buckets, obj{"name": []string{"a"}}, "Expected string, received array", "name"),
				badField("name empty", "POST", buckets, obj{"name": ""}, "at least 1 character", "name"),
				badField("name spaces", "POST", buckets, obj{"name": "   "}, "at least 1 character", "name"),
				badField("name white space", "POST", buckets, obj{"name": "\t\n \r"}, "at least 1 character", "name"),
				badField("name 101 characters", "POST", buckets, obj{"name": long}, "at most 100 character", "name"),
				badField("name 101 multi-byte characters", "POST", buckets, obj{"name": strings.Repeat("é", 101)}, "at most 100 character", "name"),
				badField("description number", "POST", buckets, obj{"name": "d", "description": 5}, "Expected string, received number", "description"),
				badField("description 1001 characters", "POST", buckets, obj{"name": "d", "description": strings.Repeat("d", 1001)}, "at most 1000 character", "description"),
				badField("retentionDays string", "POST", buckets, obj{"name": "r", "retentionDays": "x"}, "Expected number, received string", "retentionDays"),
				badField("retentionDays numeric string", "POST", buckets, obj{"name": "r", "retentionDays": "30"}, "Expected number, received string", "retentionDays"),
				badField("retentionDays fraction", "POST", buckets, obj{"name": "r", "retentionDays": 1.5}, "Expected integer", "retentionDays"),
				badField("retentionDays boolean", "POST", buckets, obj{"name": "r", "retentionDays": true}, "Expected number, received boolean", "retentionDays"),
				badField("retentionDays 0", "POST", buckets, obj{"name": "r", "retentionDays": 0}, "greater than or equal to 1", "retentionDays"),
				badField("retentionDays negative", "POST", buckets, obj{"name": "r", "retentionDays": -30}, "greater than or equal to 1", "retentionDays"),
				badField("retentionDays 3651", "POST", buckets, obj{"name": "r", "retentionDays": 3651}, "less than or equal to 3650", "retentionDays"),
				badField("retentionDays huge", "POST", buckets, `{"name":"r","retentionDays":1e300}`, "less than or equal to 3650", "retentionDays"),
				badField("status deleted", "POST", buckets, obj{"name": "s", "status": "deleted"}, "Invalid enum value", "status"),
				badField("status upper case", "POST", buckets, obj{"name": "s", "status": "ACTIVE"}, "Invalid enum value", "status"),
				badField("status number", "POST", buckets, obj{"name": "s", "status": 1}, "Expected string, received number", "status"),
				badField("patch no fields", "PATCH", bucket, obj{}, "At least one of"),
				badField("patch unknown fields only", "PATCH", bucket, obj{"color": "red"}, "At least one of"),
				badField("patch only nulls", "PATCH", bucket, obj{"name": nil, "status": nil}, "At least one of"),
				badField("patch name empty", "PATCH", bucket, obj{"name": " "}, "at least 1 character", "name"),
				badField("patch name 101", "PATCH", bucket, obj{"name": long}, "at most 100", "name"),
				badField("patch retentionDays 0", "PATCH", bucket, obj{"retentionDays": 0}, "greater than or equal to 1", "retentionDays"),
				badField("patch retentionDays 3651", "PATCH", bucket, obj{"retentionDays": 3651}, "less than or equal to 3650", "retentionDays"),
				badField("patch status deleted", "PATCH", bucket, obj{"status": "deleted"}, "Invalid enum value", "status"),
				badField("patch one bad field spoils the good one", "PATCH", bucket, obj{"description": "ok", "retentionDays": "x"}, "Expected number", "retentionDays"),
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, n, admin, adminB) })
			}
			t.Run("every problem reported", func(t *testing.T) {
				r := asKey(t, n, admin, "POST", buckets, obj{"name": 5, "retentionDays": 0, "status": "x"})
				details := wantError(t, r, http.StatusBadRequest, typeValidation, invalidBody)
				if len(details) != 3 {
					t.Errorf("details = %+v, want 3", details)
				}
				wantDetail(t, details, "Expected string", "body", "name")
				wantDetail(t, details, "greater than or equal to 1", "body", "retentionDays")
				wantDetail(t, details, "Invalid enum value", "body", "status")
			})
		})

		t.Run("key fields", func(t *testing.T) {
			t.Parallel()
			for _, c := range []badCase{
				badField("type admin", "POST", keys, obj{"name": "k", "type": "admin"}, "Invalid enum value. Expected 'write' | 'read', received 'admin'", "type"),
				badField("type upper case", "POST", keys, obj{"name": "k", "type": "WRITE"}, "Invalid enum value", "type"),
				badField("type missing", "POST", keys, obj{"name": "k"}, "Required", "type"),
				badField("type number", "POST", keys, obj{"name": "k", "type": 1}, "Expected string, received number", "type"),
				badField("name missing", "POST", keys, obj{"type": "read"}, "Required", "name"),
				badField("name empty", "POST", keys, obj{"name": "", "type": "read"}, "at least 1 character", "name"),
				badField("name 101", "POST", keys, obj{"name": long, "type": "read"}, "at most 100", "name"),
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, n, admin, adminB) })
			}
		})

		t.Run("source fields", func(t *testing.T) {
			t.Parallel()
			src := func(extra obj) obj {
				b := obj{"name": "new-src", "schema": schema}
				for k, v := range extra {
					b[k] = v
				}
				return b
			}
			for _, c := range []badCase{
				badField("name missing", "POST", sources, obj{"schema": schema}, "Required", "name"),
				badField("name number", "POST", sources, src(obj{"name": 5}), "Expected string, received number", "name"),
				badField("name white space", "POST", sources, src(obj{"name": " \t"}), "at least 1 character", "name"),
				badField("name 101", "POST", sources, src(obj{"name": long}), "at most 100", "name"),
				badField("type unknown", "POST", sources, src(obj{"type": "robot"}), "Invalid enum value", "type"),
				badField("description 1001", "POST", sources, src(obj{"description": strings.Repeat("d", 1001)}), "at most 1000", "description"),
				badField("downsampling string", "POST", sources, src(obj{"downsampling": "yes"}), "Expected boolean, received string", "downsampling"),
				badField("downsampling number", "POST", sources, src(obj{"downsampling": 1}), "Expected boolean, received number", "downsampling"),
				badField("schema missing", "POST", sources, obj{"name": "s"}, "Required", "schema"),
				badField("schema null", "POST", sources, src(obj{"schema": nil}), "received null", "schema"),
				badField("schema array", "POST", sources, src(obj{"schema": []any{}}), "Expected object, received array", "schema"),
				badField("schema empty", "POST", sources, src(obj{"schema": obj{}}), "at least one field", "schema"),
				badField("schema string", "POST", sources, src(obj{"schema": "number"}), "Expected object, received string", "schema"),
				badField("field type float", "POST", sources, src(obj{"schema": obj{"temp": obj{"type": "float"}}}),
					"Invalid enum value. Expected 'number' | 'string' | 'boolean', received 'float'", "schema", "temp", "type"),
				badField("field type missing", "POST", sources, src(obj{"schema": obj{"temp": obj{"unit": "C"}}}), "Required", "schema", "temp", "type"),
				badField("field not an object", "POST", sources, src(obj{"schema": obj{"temp": "number"}}), "Expected object, received string", "schema", "temp"),
				badField("field name with a space", "POST", sources, src(obj{"schema": obj{"my temp": obj{"type": "number"}}}), "Field name", "schema", "my temp"),
				badField("field name starting with a digit", "POST", sources, src(obj{"schema": obj{"1st": obj{"type": "number"}}}), "Field name", "schema", "1st"),
				badField("field name empty", "POST", sources, src(obj{"schema": obj{"": obj{"type": "number"}}}), "Field name", "schema", ""),
				badField("field unit too long", "POST", sources, src(obj{"schema": obj{"t": obj{"type": "number", "unit": strings.Repeat("u", 51)}}}), "at most 50", "schema", "t", "unit"),
				badField("field description 1001", "POST", sources, src(obj{"schema": obj{"t": obj{"type": "number", "description": strings.Repeat("d", 1001)}}}), "at most 1000", "schema", "t", "description"),
				badField("101 fields", "POST", sources, src(obj{"schema": manyFields(101)}), "at most 100 fields", "schema"),
				badField("one bad field among good ones", "POST", sources,
					src(obj{"schema": obj{"a": obj{"type": "number"}, "b": obj{"type": "date"}}}), "Invalid enum value", "schema", "b", "type"),
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, n, admin, adminB) })
			}
		})

		t.Run("organization fields", func(t *testing.T) {
			t.Parallel()
			for _, c := range []badCase{
				badField("name missing", "POST", orgs, obj{"plan": "pro"}, "Required", "name"),
				badField("name empty", "POST", orgs, obj{"name": "  "}, "at least 1 character", "name"),
				badField("name 101", "POST", orgs, obj{"name": long}, "at most 100", "name"),
				badField("plan unknown", "POST", orgs, obj{"name": "gold-org", "plan": "gold"}, "Invalid enum value", "plan"),
				badField("patch no fields", "PATCH", orgs+"/"+otherOrg, obj{}, "At least one of"),
				badField("patch plan unknown", "PATCH", orgs+"/"+otherOrg, obj{"plan": "gold"}, "Invalid enum value", "plan"),
				badField("admin key name number", "POST", orgs+"/"+otherOrg+"/keys", obj{"name": 5}, "Expected string", "name"),
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, n, admin, adminB) })
			}
		})

		t.Run("conflicts", func(t *testing.T) {
			t.Parallel()
			conflict := func(name, method, path string, body any, msg string) badCase {
				return badCase{name: name, method: method, path: path, body: body, status: http.StatusConflict, typ: "Conflict", msg: msg}
			}
			for _, c := range []badCase{
				conflict("duplicate bucket name", "POST", buckets, obj{"name": "taken"}, `A bucket named "taken" already exists`),
				conflict("duplicate bucket name after trimming", "POST", buckets, obj{"name": " taken\t"}, `A bucket named "taken" already exists`),
				conflict("rename onto another bucket", "PATCH", buckets+"/"+spare, obj{"name": "taken"}, `A bucket named "taken" already exists`),
				conflict("duplicate source name", "POST", sources, obj{"name": "dup-src", "schema": schema}, `A data source named "dup-src" already exists in this bucket`),
				conflict("duplicate organization name", "POST", orgs, obj{"name": "default"}, `An organization named "default" already exists`),
				conflict("rename onto another organization", "PATCH", orgs+"/"+otherOrg, obj{"name": "default"}, `An organization named "default" already exists`),
				conflict("source in archived bucket", "POST", buckets+"/"+archived+"/sources", obj{"name": "s", "schema": schema}, "Bucket is archived"),
				{name: "source in archived bucket by its write key", method: "POST", path: buckets + "/" + archived + "/sources",
					body: obj{"name": "s", "schema": schema}, key: archivedWriteKey, status: http.StatusConflict, typ: "Conflict", msg: "Bucket is archived"},
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, n, admin, adminB) })
			}
		})

		t.Run("malformed ids", func(t *testing.T) {
			t.Parallel()
			ids := []struct{ name, id string }{
				{"short", "123"},
				{"not hex", "ZZZZZZZZZZZZZZZZZZZZZZZZ"},
				{"lower-case non-hex", "zzzzzzzzzzzzzzzzzzzzzzzz"},
				{"25 characters", taken + "0"},
				{"23 characters", taken[:23]},
				{"upper-case hex", strings.ToUpper(taken)},
				{"with a dash", taken[:23] + "-"},
			}
			endpoints := []struct {
				name, method string
				path         func(id string) string
				body         any
				msg          string
			}{
				{"get bucket", "GET", func(id string) string { return buckets + "/" + id }, nil, "Invalid bucket ID format"},
				{"patch bucket", "PATCH", func(id string) string { return buckets + "/" + id }, obj{"description": "x"}, "Invalid bucket ID format"},
				{"delete bucket", "DELETE", func(id string) string { return buckets + "/" + id }, nil, "Invalid bucket ID format"},
				{"list keys", "GET", func(id string) string { return buckets + "/" + id + "/keys" }, nil, "Invalid bucket ID format"},
				{"create key", "POST", func(id string) string { return buckets + "/" + id + "/keys" }, obj{"name": "k", "type": "read"}, "Invalid bucket ID format"},
				{"delete key, bad bucket", "DELETE", func(id string) string { return buckets + "/" + id + "/keys/" + keyID }, nil, "Invalid bucket ID format"},
				{"delete key, bad key", "DELETE", func(id string) string { return keys + "/" + id }, nil, "Invalid API key ID format"},
				{"list sources", "GET", func(id string) string { return buckets + "/" + id + "/sources" }, nil, "Invalid bucket ID format"},
				{"create source", "POST", func(id string) string { return buckets + "/" + id + "/sources" }, obj{"name": "s", "schema": schema}, "Invalid bucket ID format"},
				{"patch org", "PATCH", func(id string) string { return orgs + "/" + id }, obj{"plan": "pro"}, "Invalid organization ID format"},
				{"create admin key", "POST", func(id string) string { return orgs + "/" + id + "/keys" }, nil, "Invalid organization ID format"},
			}
			for _, e := range endpoints {
				for _, id := range ids {
					c := badCase{name: e.name + "/" + id.name, method: e.method, path: e.path(id.id), body: e.body,
						status: http.StatusBadRequest, typ: typeValidation, msg: e.msg}
					t.Run(c.name, func(t *testing.T) { c.run(t, n, admin, adminB) })
				}
			}
		})

		t.Run("unknown ids", func(t *testing.T) {
			t.Parallel()
			notFound := func(name, method, path string, body any, msg string) badCase {
				return badCase{name: name, method: method, path: path, body: body, status: http.StatusNotFound, typ: "Not Found", msg: msg}
			}
			for _, c := range []badCase{
				notFound("get bucket", "GET", buckets+"/"+missingBucket, nil, "Bucket not found"),
				notFound("get deleted bucket", "GET", buckets+"/"+gone, nil, "Bucket not found"),
				notFound("patch bucket", "PATCH", buckets+"/"+missingBucket, obj{"description": "x"}, "Bucket not found"),
				notFound("delete bucket", "DELETE", buckets+"/"+missingBucket, nil, "Bucket not found"),
				notFound("list keys", "GET", buckets+"/"+missingBucket+"/keys", nil, "Bucket not found"),
				notFound("create key", "POST", buckets+"/"+missingBucket+"/keys", obj{"name": "k", "type": "read"}, "Bucket not found"),
				notFound("delete key of unknown bucket", "DELETE", buckets+"/"+missingBucket+"/keys/"+keyID, nil, "Bucket not found"),
				notFound("delete unknown key", "DELETE", keys+"/"+missingBucket, nil, "API key not found"),
				notFound("delete key through another bucket", "DELETE", buckets+"/"+spare+"/keys/"+keyID, nil, "API key not found"),
				notFound("list sources", "GET", buckets+"/"+missingBucket+"/sources", nil, "Bucket not found"),
				notFound("create source", "POST", buckets+"/"+missingBucket+"/sources", obj{"name": "s", "schema": schema}, "Bucket not found"),
				notFound("patch org", "PATCH", orgs+"/"+missingBucket, obj{"plan": "pro"}, "Organization not found"),
				notFound("create admin key", "POST", orgs+"/"+missingBucket+"/keys", nil, "Organization not found"),
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, n, admin, adminB) })
			}
		})

		t.Run("pagination", func(t *testing.T) {
			t.Parallel()
			lists := []struct{ name, path string }{
				{"buckets", buckets}, {"keys", keys}, {"sources", sources}, {"orgs", orgs},
			}
			queries := []struct {
				name, query, param, msg string
			}{
				{"limit 0", "limit=0", "limit", "between 1 and 1000"},
				{"limit 1001", "limit=1001", "limit", "between 1 and 1000"},
				{"limit negative", "limit=-1", "limit", "between 1 and 1000"},
				{"limit abc", "limit=abc", "limit", "Expected integer"},
				{"limit fraction", "limit=1.5", "limit", "Expected integer"},
				{"offset -1", "offset=-1", "offset", "between 0 and"},
				{"offset abc", "offset=abc", "offset", "Expected integer"},
				{"good limit, bad offset", "limit=10&offset=-1", "offset", "between 0 and"},
			}
			for _, l := range lists {
				for _, q := range queries {
					c := badCase{name: l.name + "/" + q.name, method: "GET", path: l.path + "?" + q.query,
						status: http.StatusBadRequest, typ: typeValidation, msg: "Invalid pagination parameters",
						detailPath: []any{"query", q.param}, detailMsg: q.msg}
					t.Run(c.name, func(t *testing.T) {
						before := world(t, n, admin, adminB)
						var r *client.RawResponse
						if l.name == "orgs" {
							r = asOperator(t, n, c.method, c.path, nil)
						} else {
							r = asKey(t, n, admin, c.method, c.path, nil)
						}
						wantDetail(t, wantError(t, r, c.status, c.typ, c.msg), c.detailMsg, c.detailPath...)
						unchanged(t, n, before, admin, adminB)
					})
				}
			}
		})

		t.Run("routes", func(t *testing.T) {
			t.Parallel()
			route := func(name, method, path string, status int, typ, msg string) badCase {
				return badCase{name: name, method: method, path: path, status: status, typ: typ, msg: msg}
			}
			const (
				nf  = http.StatusNotFound
				mna = http.StatusMethodNotAllowed
			)
			for _, c := range []badCase{
				route("unknown path", "GET", "/api/nope", nf, "Not Found", "Route not found"),
				route("root", "GET", "/", nf, "Not Found", "Route not found"),
				route("api root", "GET", "/api", nf, "Not Found", "Route not found"),
				route("too deep", "GET", bucket+"/keys/"+keyID+"/more", nf, "Not Found", "Route not found"),
				route("unknown child", "GET", bucket+"/widgets", nf, "Not Found", "Route not found"),
				// The server folds "//" into "/", which leaves "keys" as the bucket id.
				route("empty id segment", "GET", "/api/buckets//keys", http.StatusBadRequest, typeValidation, "Invalid bucket ID format"),
				route("PUT buckets", "PUT", buckets, mna, "Method Not Allowed", "Method not allowed for this endpoint"),
				route("DELETE buckets", "DELETE", buckets, mna, "Method Not Allowed", "Method not allowed for this endpoint"),
				route("POST bucket", "POST", bucket, mna, "Method Not Allowed", "Method not allowed for this endpoint"),
				route("PUT bucket", "PUT", bucket, mna, "Method Not Allowed", "Method not allowed for this endpoint"),
				route("DELETE sources", "DELETE", sources, mna, "Method Not Allowed", "Method not allowed for this endpoint"),
				route("GET key", "GET", keys+"/"+keyID, mna, "Method Not Allowed", "Method not allowed for this endpoint"),
				route("POST health", "POST", "/health", mna, "Method Not Allowed", "Method not allowed for this endpoint"),
				route("DELETE orgs", "DELETE", orgs, mna, "Method Not Allowed", "Method not allowed for this endpoint"),
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, n, admin, adminB) })
			}
		})

		t.Run("body of 11 MiB", func(t *testing.T) {
			t.Parallel()
			before := world(t, n, admin, adminB)
			status, body := postRaw(t, n, admin, buckets, paddedBucket("huge", 11<<20))
			r := &client.RawResponse{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
			wantError(t, r, http.StatusRequestEntityTooLarge, "Payload Too Large", "Request body exceeds the maximum size")
			unchanged(t, n, before, admin, adminB)
		})
	})

	t.Run("accepted", func(t *testing.T) {
		t.Run("concurrent creates of one name", func(t *testing.T) {
			tests := []struct {
				name, path string
				c          *client.Client
				body       string
			}{
				{"bucket", buckets, n.Admin, `{"name":"race"}`},
				{"source", buckets + "/" + spare + "/sources", n.Admin, `{"name":"race","schema":{"v":{"type":"number"}}}`},
				{"organization", orgs, n.Operator, `{"name":"race","plan":"enterprise"}`},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					const tries = 16
					statuses := make([]int, tries)
					errs := make([]error, tries)
					var wg sync.WaitGroup
					for i := range tries {
						wg.Go(func() {
							r, err := tt.c.Do(t.Context(), "POST", tt.path, []byte(tt.body), nil)
							if err != nil {
								errs[i] = err
								return
							}
							statuses[i] = r.StatusCode
						})
					}
					wg.Wait()
					won := 0
					for i, st := range statuses {
						switch {
						case errs[i] != nil:
							t.Errorf("request %d: %v", i, errs[i])
						case st == http.StatusCreated:
							won++
						case st != http.StatusConflict:
							t.Errorf("request %d: status %d, want 201 or 409", i, st)
						}
					}
					if won != 1 {
						t.Errorf("%d of %d concurrent creates succeeded, want exactly 1", won, tries)
					}
				})
			}
		})
		t.Run("same bucket name in another organization", func(t *testing.T) {
			mkBucket(t, n, adminB, obj{"name": "taken"})
		})
		t.Run("same source name in another bucket", func(t *testing.T) {
			mkSource(t, n, admin, spare, "dup-src")
		})
		t.Run("100 schema fields", func(t *testing.T) {
			src := dataObj(t, asKey(t, n, admin, "POST", sources, obj{"name": "wide", "schema": manyFields(100)}), http.StatusCreated)
			if len(src["schema"].(obj)) != 100 {
				t.Errorf("schema has %d fields, want 100", len(src["schema"].(obj)))
			}
		})
		t.Run("just under 10 MiB is read", func(t *testing.T) {
			b := dataObj(t, asKey(t, n, admin, "POST", buckets, paddedBucket("big", 10<<20-1)), http.StatusCreated)
			wantValues(t, "bucket", b, obj{"name": "big"})
		})
	})
}

// manyFields returns a schema of n number fields.
func manyFields(n int) obj {
	s := obj{}
	for i := range n {
		s[fmt.Sprintf("f%d", i)] = obj{"type": "number"}
	}
	return s
}

// paddedBucket returns a create-bucket body of exactly size bytes, made
// large by an unknown member.
func paddedBucket(name string, size int) []byte {
	head := fmt.Sprintf(`{"name":%q,"padding":"`, name)
	tail := `"}`
	return []byte(head + strings.Repeat("p", size-len(head)-len(tail)) + tail)
}

// postRaw posts body over a plain TCP connection and returns the answer's
// status and body. The server may answer and close before it has read the
// whole body (it does for one that is too large), so failures to write are
// expected and ignored; only the answer counts.
func postRaw(t *testing.T, n *testnode.Node, key, path string, body []byte) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", n.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		path, n.HTTPAddr(), key, len(body))
	req.Write(body)
	written := make(chan struct{})
	go func() {
		defer close(written)
		_, _ = conn.Write(req.Bytes())
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer's body: %v", err)
	}
	_ = conn.Close()
	<-written
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return resp.StatusCode, got
}
