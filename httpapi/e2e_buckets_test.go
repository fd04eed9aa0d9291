package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/testnode"
)

var bucketFields = []string{"_id", "name", "description", "organizationId", "retentionDays", "status", "createdAt", "updatedAt"}

func TestE2EBuckets(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	admin := n.AdminKey
	orgID := defaultOrgID(t, n)

	t.Run("create", func(t *testing.T) {
		tests := []struct {
			name string
			body obj
			want obj
		}{
			{"defaults", obj{"name": "weather"},
				obj{"name": "weather", "description": "", "retentionDays": 30.0, "status": "active"}},
			{"every field", obj{"name": "archive", "description": "old data", "retentionDays": 3650, "status": "archived"},
				obj{"name": "archive", "description": "old data", "retentionDays": 3650.0, "status": "archived"}},
			{"bounds of retention", obj{"name": "short", "retentionDays": 1},
				obj{"name": "short", "retentionDays": 1.0, "status": "active"}},
			{"name trimmed", obj{"name": "  padded\t", "description": " d "},
				obj{"name": "padded", "description": "d"}},
			{"100 multi-byte characters", obj{"name": strings.Repeat("é", 100)},
				obj{"name": strings.Repeat("é", 100)}},
			{"description of 1000 characters", obj{"name": "long-description", "description": strings.Repeat("ü", 1000)},
				obj{"description": strings.Repeat("ü", 1000)}},
			{"unknown fields ignored", obj{"name": "extra", "color": "blue", "organizationId": "000000000000000000000000"},
				obj{"name": "extra", "organizationId": orgID}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := time.Now().UTC()
				b := mkBucket(t, n, admin, tt.body)
				wantFields(t, "bucket", b, bucketFields...)
				id := wantID(t, b, "_id")
				created, updated := wantTime(t, b, "createdAt"), wantTime(t, b, "updatedAt")
				if !created.Equal(updated) || created.Before(before.Truncate(time.Second)) || created.After(time.Now()) {
					t.Errorf("createdAt %v updatedAt %v, want equal and within the request", created, updated)
				}
				wantIDTime(t, id, created)
				wantValues(t, "bucket", b, obj{"organizationId": orgID})
				wantValues(t, "bucket", b, tt.want)
				got := dataObj(t, asKey(t, n, admin, "GET", "/api/buckets/"+id, nil), http.StatusOK)
				delete(got, "stats")
				wantValues(t, "stored bucket", got, b)
			})
		}
	})

	t.Run("wrong content type accepted", func(t *testing.T) {
		r := send(t, n.Admin, "POST", "/api/buckets", `{"name":"plain-text"}`, http.Header{"Content-Type": {"text/plain"}})
		wantValues(t, "bucket", dataObj(t, r, http.StatusCreated), obj{"name": "plain-text"})
	})

	t.Run("get with stats", func(t *testing.T) {
		b := mkBucket(t, n, admin, obj{"name": unique("stats")})
		id := b["_id"].(string)
		check := func(sources, keys float64) {
			t.Helper()
			got := dataObj(t, asKey(t, n, admin, "GET", "/api/buckets/"+id, nil), http.StatusOK)
			wantFields(t, "bucket", got, append(bucketFields, "stats")...)
			stats, _ := got["stats"].(obj)
			wantFields(t, "stats", stats, "dataSourceCount", "dataPointCount", "apiKeyCount")
			wantValues(t, "stats", stats, obj{"dataSourceCount": sources, "dataPointCount": 0.0, "apiKeyCount": keys})
			delete(got, "stats")
			wantValues(t, "bucket", got, b)
		}
		check(0, 0)
		mkSource(t, n, admin, id, "s1")
		mkSource(t, n, admin, id, "s2")
		mkKey(t, n, admin, id, "write")
		check(2, 1)
		mkKey(t, n, admin, id, "read")
		mkKey(t, n, admin, id, "read")
		check(2, 3)
	})

	t.Run("list pagination", func(t *testing.T) {
		// A fresh organization, so that totals are known.
		_, key := mkOrg(t, n, unique("paging"))
		var names []string
		for i := range 5 {
			names = append(names, fmt.Sprintf("b%d", i))
			mkBucket(t, n, key, obj{"name": names[i]})
		}
		tests := []struct {
			name  string
			query string
			want  []string
			page  pagination
		}{
			{"defaults", "", names, pagination{Limit: 100, Offset: 0, Total: 5, HasMore: false}},
			{"first page", "?limit=2", names[:2], pagination{Limit: 2, Offset: 0, Total: 5, HasMore: true}},
			{"middle page", "?limit=2&offset=2", names[2:4], pagination{Limit: 2, Offset: 2, Total: 5, HasMore: true}},
			{"last page", "?limit=2&offset=4", names[4:], pagination{Limit: 2, Offset: 4, Total: 5, HasMore: false}},
			{"exact fit", "?limit=5", names, pagination{Limit: 5, Offset: 0, Total: 5, HasMore: false}},
			{"offset only", "?offset=3", names[3:], pagination{Limit: 100, Offset: 3, Total: 5, HasMore: false}},
			{"past the end", "?offset=10", nil, pagination{Limit: 100, Offset: 10, Total: 5, HasMore: false}},
			{"largest limit", "?limit=1000", names, pagination{Limit: 1000, Offset: 0, Total: 5, HasMore: false}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				items, p := wantList(t, asKey(t, n, key, "GET", "/api/buckets"+tt.query, nil))
				if p != tt.page {
					t.Errorf("pagination = %+v, want %+v", p, tt.page)
				}
				var got []string
				for _, it := range items {
					wantFields(t, "bucket", it, bucketFields...)
					got = append(got, it["name"].(string))
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("names = %v, want %v", got, tt.want)
				}
			})
		}
		t.Run("other organization sees none of them", func(t *testing.T) {
			items, _ := wantList(t, asKey(t, n, admin, "GET", "/api/buckets?limit=1000", nil))
			for _, it := range items {
				if it["organizationId"] != orgID {
					t.Errorf("listed bucket of another organization: %v", it)
				}
			}
		})
	})

	t.Run("patch", func(t *testing.T) {
		tests := []struct {
			name string
			body obj
			want obj
		}{
			{"name", obj{"name": unique("renamed")}, nil},
			{"same name", nil, nil}, // body filled in below: renaming to itself is no conflict
			{"description", obj{"description": "now described"}, nil},
			{"clear description", obj{"description": ""}, nil},
			{"retentionDays", obj{"retentionDays": 365}, obj{"retentionDays": 365.0}},
			{"archive", obj{"status": "archived"}, nil},
			{"everything", obj{"name": unique("all"), "description": "all of it", "retentionDays": 7, "status": "archived"},
				obj{"retentionDays": 7.0}},
			{"null fields are left alone", obj{"description": "kept", "name": nil}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				orig := mkBucket(t, n, admin, obj{"name": unique("patch"), "description": "orig", "retentionDays": 90})
				id := orig["_id"].(string)
				body := tt.body
				if body == nil {
					body = obj{"name": orig["name"]}
				}
				got := dataObj(t, asKey(t, n, admin, "PATCH", "/api/buckets/"+id, body), http.StatusOK)
				wantFields(t, "bucket", got, bucketFields...)
				want := obj{}
				for k, v := range orig {
					want[k] = v
				}
				for k, v := range body {
					if v != nil {
						want[k] = v
					}
				}
				for k, v := range tt.want {
					want[k] = v
				}
				updated := wantTime(t, got, "updatedAt")
				if created := wantTime(t, orig, "createdAt"); updated.Before(created) {
					t.Errorf("updatedAt %v before createdAt %v", updated, created)
				}
				delete(want, "updatedAt")
				wantValues(t, "patched bucket", got, want)
				stored := dataObj(t, asKey(t, n, admin, "GET", "/api/buckets/"+id, nil), http.StatusOK)
				delete(stored, "stats")
				wantValues(t, "stored bucket", stored, got)
			})
		}
		t.Run("unarchive", func(t *testing.T) {
			b := mkBucket(t, n, admin, obj{"name": unique("unarchive"), "status": "archived"})
			got := dataObj(t, asKey(t, n, admin, "PATCH", "/api/buckets/"+b["_id"].(string), obj{"status": "active"}), http.StatusOK)
			wantValues(t, "bucket", got, obj{"status": "active"})
			mkSource(t, n, admin, b["_id"].(string), "after-unarchive")
		})
		t.Run("old name is free after a rename", func(t *testing.T) {
			name := unique("free")
			b := mkBucket(t, n, admin, obj{"name": name})
			dataObj(t, asKey(t, n, admin, "PATCH", "/api/buckets/"+b["_id"].(string), obj{"name": name + "-new"}), http.StatusOK)
			mkBucket(t, n, admin, obj{"name": name})
		})
	})

	t.Run("delete cascades", func(t *testing.T) {
		name := unique("doomed")
		b := mkBucket(t, n, admin, obj{"name": name})
		id := b["_id"].(string)
		mkSource(t, n, admin, id, "s1")
		mkSource(t, n, admin, id, "s2")
		mkSource(t, n, admin, id, "s3")
		_, writeKey := mkKey(t, n, admin, id, "write")
		_, readKey := mkKey(t, n, admin, id, "read")
		// Both keys work, and sit in the key cache, before the delete.
		for _, k := range []string{writeKey, readKey} {
			wantList(t, asKey(t, n, k, "GET", "/api/buckets/"+id+"/sources", nil))
		}

		got := dataObj(t, asKey(t, n, admin, "DELETE", "/api/buckets/"+id, nil), http.StatusOK)
		wantFields(t, "delete result", got, "deletedBucket", "deletedResources")
		db, _ := got["deletedBucket"].(obj)
		wantFields(t, "deletedBucket", db, "_id", "name")
		wantValues(t, "deletedBucket", db, obj{"_id": id, "name": name})
		dr, _ := got["deletedResources"].(obj)
		wantFields(t, "deletedResources", dr, "dataSources", "dataPoints", "apiKeys", "alertRules")
		wantValues(t, "deletedResources", dr, obj{"dataSources": 3.0, "dataPoints": 0.0, "apiKeys": 2.0, "alertRules": 0.0})

		t.Run("its keys are refused at once", func(t *testing.T) {
			for _, k := range []string{writeKey, readKey} {
				r := asKey(t, n, k, "GET", "/api/buckets/"+id+"/sources", nil)
				wantError(t, r, http.StatusUnauthorized, "Unauthorized", "Invalid or missing API key")
			}
		})
		t.Run("it and its contents are gone", func(t *testing.T) {
			for _, path := range []string{"/api/buckets/" + id, "/api/buckets/" + id + "/sources", "/api/buckets/" + id + "/keys"} {
				wantError(t, asKey(t, n, admin, "GET", path, nil), http.StatusNotFound, "Not Found", "Bucket not found")
			}
			wantError(t, asKey(t, n, admin, "DELETE", "/api/buckets/"+id, nil), http.StatusNotFound, "Not Found", "Bucket not found")
			items, _ := wantList(t, asKey(t, n, admin, "GET", "/api/buckets?limit=1000", nil))
			for _, it := range items {
				if it["_id"] == id {
					t.Errorf("deleted bucket still listed")
				}
			}
		})
		t.Run("its names are free again", func(t *testing.T) {
			again := mkBucket(t, n, admin, obj{"name": name})
			newID := again["_id"].(string)
			if newID == id {
				t.Fatalf("new bucket reuses the deleted id %s", id)
			}
			items, p := wantList(t, asKey(t, n, admin, "GET", "/api/buckets/"+newID+"/sources", nil))
			if len(items) != 0 || p.Total != 0 {
				t.Errorf("new bucket has sources %v", items)
			}
			mkSource(t, n, admin, newID, "s1")
			stats := dataObj(t, asKey(t, n, admin, "GET", "/api/buckets/"+newID, nil), http.StatusOK)["stats"]
			wantValues(t, "stats", stats.(obj), obj{"dataSourceCount": 1.0, "apiKeyCount": 0.0})
		})
	})
}

// defaultOrgID returns the id of the node's initial organization.
func defaultOrgID(t testing.TB, n *testnode.Node) string {
	t.Helper()
	orgs, _ := wantList(t, asOperator(t, n, "GET", "/api/operator/orgs", nil))
	for _, o := range orgs {
		if o["name"] == "default" {
			return o["_id"].(string)
		}
	}
	t.Fatalf("no default organization in %v", orgs)
	return ""
}
