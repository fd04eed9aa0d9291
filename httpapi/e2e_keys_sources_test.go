package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/internal/testnode"
)

var (
	createdKeyFields = []string{"_id", "name", "type", "key", "keyPrefix", "bucketId", "createdAt"}
	listedKeyFields  = []string{"_id", "name", "type", "keyPrefix", "bucketId", "createdAt", "lastUsedAt"}
	sourceFields     = []string{"_id", "bucketId", "name", "type", "description", "schema", "downsampling", "status", "createdAt", "updatedAt"}
)

const keyAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func TestE2EKeys(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	admin := n.AdminKey
	bucketID := mkBucket(t, n, admin, obj{"name": "keys"})["_id"].(string)
	keysPath := "/api/buckets/" + bucketID + "/keys"

	// Every key made below, to prove no listing ever shows one.
	var made []string

	t.Run("create", func(t *testing.T) {
		tests := []struct {
			name, typ, prefix string
		}{
			{"write key", "write", "dakkio_w_"},
			{"read key", "read", "dakkio_r_"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				name := unique(tt.typ)
				k := dataObj(t, asKey(t, n, admin, "POST", keysPath, obj{"name": name, "type": tt.typ}), http.StatusCreated)
				wantFields(t, "created key", k, createdKeyFields...)
				wantID(t, k, "_id")
				wantTime(t, k, "createdAt")
				wantValues(t, "created key", k, obj{"name": name, "type": tt.typ, "bucketId": bucketID})
				key, _ := k["key"].(string)
				made = append(made, key)
				rest, ok := strings.CutPrefix(key, tt.prefix)
				if !ok || len(rest) < 32 || strings.Trim(rest, keyAlphabet) != "" {
					t.Errorf("key = %q, want %q and at least 32 letters or digits", key, tt.prefix)
				}
				if k["keyPrefix"] != key[:12] {
					t.Errorf("keyPrefix = %v, want %q", k["keyPrefix"], key[:12])
				}
				// The key works at once, on its own bucket.
				wantList(t, asKey(t, n, key, "GET", "/api/buckets/"+bucketID+"/sources", nil))
			})
		}
	})

	t.Run("list never shows a key or its hash", func(t *testing.T) {
		_, unused := mkKey(t, n, admin, bucketID, "read")
		made = append(made, unused)
		r := asKey(t, n, admin, "GET", keysPath, nil)
		items, p := wantList(t, r)
		if p.Total != len(made) || len(items) != len(made) {
			t.Fatalf("listed %d keys (total %d), want %d", len(items), p.Total, len(made))
		}
		for _, it := range items {
			wantFields(t, "listed key", it, listedKeyFields...)
			wantID(t, it, "_id")
			wantTime(t, it, "createdAt")
			if it["bucketId"] != bucketID {
				t.Errorf("bucketId = %v, want %s", it["bucketId"], bucketID)
			}
		}
		body := string(r.Body)
		if strings.Contains(body, `"hash"`) {
			t.Errorf("key list has a hash field: %s", body)
		}
		for _, k := range made {
			if strings.Contains(body, k) || strings.Contains(body, secret.Hash(k)) {
				t.Errorf("key list shows key %s or its hash: %s", k[:12], body)
			}
		}
		// Nor does any other metadata answer.
		for _, path := range []string{"/api/buckets", "/api/buckets/" + bucketID, "/api/buckets/" + bucketID + "/sources"} {
			r := asKey(t, n, admin, "GET", path, nil)
			for _, k := range made {
				if strings.Contains(string(r.Body), k[12:]) || strings.Contains(string(r.Body), secret.Hash(k)) {
					t.Errorf("GET %s shows key %s", path, k[:12])
				}
			}
		}
	})

	t.Run("lastUsedAt", func(t *testing.T) {
		id, key := mkKey(t, n, admin, bucketID, "write")
		made = append(made, key)
		lastUsed := func() any {
			t.Helper()
			items, _ := wantList(t, asKey(t, n, admin, "GET", keysPath+"?limit=1000", nil))
			for _, it := range items {
				if it["_id"] == id {
					return it["lastUsedAt"]
				}
			}
			t.Fatalf("key %s not listed", id)
			return nil
		}
		if v := lastUsed(); v != nil {
			t.Fatalf("lastUsedAt of an unused key = %v, want null", v)
		}
		before := time.Now()
		wantList(t, asKey(t, n, key, "GET", "/api/buckets/"+bucketID+"/sources", nil))
		after := time.Now()
		used := wantTime(t, obj{"lastUsedAt": lastUsed()}, "lastUsedAt")
		if used.Before(before.Truncate(time.Second)) || used.After(after) {
			t.Errorf("lastUsedAt = %v, want between %v and %v", used, before, after)
		}
	})

	t.Run("delete", func(t *testing.T) {
		name := unique("revoked")
		k := dataObj(t, asKey(t, n, admin, "POST", keysPath, obj{"name": name, "type": "write"}), http.StatusCreated)
		id, key := k["_id"].(string), k["key"].(string)
		sources := "/api/buckets/" + bucketID + "/sources"
		wantList(t, asKey(t, n, key, "GET", sources, nil)) // cached before the delete
		_, p := wantList(t, asKey(t, n, admin, "GET", keysPath, nil))

		got := dataObj(t, asKey(t, n, admin, "DELETE", keysPath+"/"+id, nil), http.StatusOK)
		wantFields(t, "delete result", got, "deletedKey")
		dk, _ := got["deletedKey"].(obj)
		wantFields(t, "deletedKey", dk, "_id", "name", "type")
		wantValues(t, "deletedKey", dk, obj{"_id": id, "name": name, "type": "write"})

		wantError(t, asKey(t, n, key, "GET", sources, nil), http.StatusUnauthorized, "Unauthorized", "Invalid or missing API key")
		wantError(t, asKey(t, n, key, "POST", sources, obj{"name": "x", "schema": obj{"v": obj{"type": "number"}}}),
			http.StatusUnauthorized, "Unauthorized", "Invalid or missing API key")
		items, p2 := wantList(t, asKey(t, n, admin, "GET", keysPath, nil))
		if p2.Total != p.Total-1 {
			t.Errorf("total after delete = %d, want %d", p2.Total, p.Total-1)
		}
		for _, it := range items {
			if it["_id"] == id {
				t.Errorf("deleted key still listed")
			}
		}
		stats := dataObj(t, asKey(t, n, admin, "GET", "/api/buckets/"+bucketID, nil), http.StatusOK)["stats"].(obj)
		wantValues(t, "stats", stats, obj{"apiKeyCount": float64(p.Total - 1)})
		wantError(t, asKey(t, n, admin, "DELETE", keysPath+"/"+id, nil), http.StatusNotFound, "Not Found", "API key not found")
	})

	t.Run("key of another bucket is not found through this one", func(t *testing.T) {
		other := mkBucket(t, n, admin, obj{"name": unique("other")})["_id"].(string)
		id, key := mkKey(t, n, admin, other, "read")
		wantError(t, asKey(t, n, admin, "DELETE", keysPath+"/"+id, nil), http.StatusNotFound, "Not Found", "API key not found")
		wantList(t, asKey(t, n, key, "GET", "/api/buckets/"+other+"/sources", nil))
	})

	t.Run("pagination", func(t *testing.T) {
		b := mkBucket(t, n, admin, obj{"name": unique("key-pages")})["_id"].(string)
		for range 3 {
			mkKey(t, n, admin, b, "read")
		}
		items, p := wantList(t, asKey(t, n, admin, "GET", "/api/buckets/"+b+"/keys?limit=2&offset=1", nil))
		if len(items) != 2 || p != (pagination{Limit: 2, Offset: 1, Total: 3, HasMore: false}) {
			t.Errorf("got %d items, pagination %+v", len(items), p)
		}
	})
}

func TestE2ESources(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	admin := n.AdminKey
	bucketID := mkBucket(t, n, admin, obj{"name": "sources"})["_id"].(string)
	path := "/api/buckets/" + bucketID + "/sources"

	t.Run("create", func(t *testing.T) {
		tests := []struct {
			name string
			body obj
			want obj
		}{
			{"defaults", obj{"name": "probe", "schema": obj{"temperature": obj{"type": "number"}}},
				obj{"name": "probe", "type": "sensor", "description": "", "downsampling": true, "status": "active",
					"schema": obj{"temperature": obj{"type": "number"}}}},
			{"every field", obj{"name": "gateway", "type": "api", "description": "edge gateway", "downsampling": false,
				"schema": obj{
					"temperature": obj{"type": "number", "unit": "celsius", "description": "air"},
					"label":       obj{"type": "string"},
					"door_open":   obj{"type": "boolean", "unit": ""},
				}},
				obj{"name": "gateway", "type": "api", "description": "edge gateway", "downsampling": false, "status": "active",
					"schema": obj{
						"temperature": obj{"type": "number", "unit": "celsius", "description": "air"},
						"label":       obj{"type": "string"},
						"door_open":   obj{"type": "boolean"},
					}}},
			{"field names with dots and dashes", obj{"name": "dotted", "schema": obj{"cpu.load-1m": obj{"type": "number"}, "_x": obj{"type": "number"}}},
				obj{"schema": obj{"cpu.load-1m": obj{"type": "number"}, "_x": obj{"type": "number"}}}},
			{"type webhook", obj{"name": "t-webhook", "type": "webhook", "schema": obj{"v": obj{"type": "number"}}}, obj{"type": "webhook"}},
			{"type manual", obj{"name": "t-manual", "type": "manual", "schema": obj{"v": obj{"type": "number"}}}, obj{"type": "manual"}},
			{"type application", obj{"name": "t-application", "type": "application", "schema": obj{"v": obj{"type": "number"}}}, obj{"type": "application"}},
			{"type service", obj{"name": "t-service", "type": "service", "schema": obj{"v": obj{"type": "number"}}}, obj{"type": "service"}},
			{"type sensor", obj{"name": "t-sensor", "type": "sensor", "schema": obj{"v": obj{"type": "number"}}}, obj{"type": "sensor"}},
			{"100 multi-byte characters", obj{"name": strings.Repeat("日", 100), "schema": obj{"v": obj{"type": "number"}}},
				obj{"name": strings.Repeat("日", 100)}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				src := dataObj(t, asKey(t, n, admin, "POST", path, tt.body), http.StatusCreated)
				wantFields(t, "source", src, sourceFields...)
				wantID(t, src, "_id")
				created, updated := wantTime(t, src, "createdAt"), wantTime(t, src, "updatedAt")
				if !created.Equal(updated) {
					t.Errorf("createdAt %v != updatedAt %v", created, updated)
				}
				wantValues(t, "source", src, obj{"bucketId": bucketID})
				wantValues(t, "source", src, tt.want)
				items, _ := wantList(t, asKey(t, n, admin, "GET", path+"?limit=1000", nil))
				for _, it := range items {
					if it["_id"] == src["_id"] {
						wantValues(t, "listed source", it, src)
						return
					}
				}
				t.Errorf("created source %v not listed", src["_id"])
			})
		}
	})

	t.Run("list", func(t *testing.T) {
		b := mkBucket(t, n, admin, obj{"name": unique("list")})["_id"].(string)
		p := "/api/buckets/" + b + "/sources"
		items, pg := wantList(t, asKey(t, n, admin, "GET", p, nil))
		if len(items) != 0 || pg != (pagination{Limit: 100, Total: 0}) {
			t.Fatalf("empty bucket lists %v, %+v", items, pg)
		}
		var made []obj
		for _, name := range []string{"a", "b", "c"} {
			made = append(made, mkSource(t, n, admin, b, name))
		}
		tests := []struct {
			name  string
			query string
			want  []obj
			page  pagination
		}{
			{"all", "", made, pagination{Limit: 100, Total: 3}},
			{"first", "?limit=1", made[:1], pagination{Limit: 1, Total: 3, HasMore: true}},
			{"rest", "?limit=5&offset=1", made[1:], pagination{Limit: 5, Offset: 1, Total: 3}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				items, pg := wantList(t, asKey(t, n, admin, "GET", p+tt.query, nil))
				if pg != tt.page {
					t.Errorf("pagination = %+v, want %+v", pg, tt.page)
				}
				if len(items) != len(tt.want) {
					t.Fatalf("got %d sources, want %d", len(items), len(tt.want))
				}
				for i, it := range items {
					wantFields(t, "listed source", it, sourceFields...)
					wantValues(t, "listed source", it, tt.want[i])
				}
			})
		}
		t.Run("by the bucket's write and read keys", func(t *testing.T) {
			for _, typ := range []string{"write", "read"} {
				_, key := mkKey(t, n, admin, b, typ)
				items, _ := wantList(t, asKey(t, n, key, "GET", p, nil))
				if len(items) != 3 {
					t.Errorf("%s key lists %d sources, want 3", typ, len(items))
				}
			}
		})
	})

	t.Run("created by the bucket's write key", func(t *testing.T) {
		_, key := mkKey(t, n, admin, bucketID, "write")
		src := mkSource(t, n, key, bucketID, unique("by-write-key"))
		wantValues(t, "source", src, obj{"bucketId": bucketID, "status": "active"})
	})

	t.Run("same name in another bucket", func(t *testing.T) {
		a := mkBucket(t, n, admin, obj{"name": unique("a")})["_id"].(string)
		b := mkBucket(t, n, admin, obj{"name": unique("b")})["_id"].(string)
		mkSource(t, n, admin, a, "shared")
		mkSource(t, n, admin, b, "shared")
	})
}
