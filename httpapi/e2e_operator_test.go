package httpapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/internal/testnode"
)

var orgFields = []string{"_id", "name", "plan", "createdAt", "updatedAt"}

func TestE2EOperator(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)

	// An organization made here, shared by the subtests that follow.
	var orgID, orgKey string
	orgName := unique("acme")

	t.Run("create organization", func(t *testing.T) {
		got := dataObj(t, asOperator(t, n, "POST", "/api/operator/orgs", obj{"name": orgName}), http.StatusCreated)
		wantFields(t, "created org", got, "organization", "adminKey")
		org, _ := got["organization"].(obj)
		wantFields(t, "organization", org, orgFields...)
		orgID = wantID(t, org, "_id")
		if c, u := wantTime(t, org, "createdAt"), wantTime(t, org, "updatedAt"); !c.Equal(u) {
			t.Errorf("createdAt %v != updatedAt %v", c, u)
		}
		wantValues(t, "organization", org, obj{"name": orgName, "plan": "free"})

		key, _ := got["adminKey"].(obj)
		wantFields(t, "adminKey", key, "_id", "name", "type", "key", "keyPrefix", "organizationId", "createdAt")
		wantID(t, key, "_id")
		wantTime(t, key, "createdAt")
		wantValues(t, "adminKey", key, obj{"type": "admin", "organizationId": orgID})
		orgKey, _ = key["key"].(string)
		if !strings.HasPrefix(orgKey, "dakkio_a_") || !secret.WellFormed(orgKey) || key["keyPrefix"] != orgKey[:12] {
			t.Fatalf("admin key %q with keyPrefix %v, want dakkio_a_ and its first 12 characters", orgKey, key["keyPrefix"])
		}
	})

	t.Run("its admin key sees only its organization", func(t *testing.T) {
		items, p := wantList(t, asKey(t, n, orgKey, "GET", "/api/buckets", nil))
		if len(items) != 0 || p.Total != 0 {
			t.Fatalf("new organization lists buckets %v", items)
		}
		// A bucket of the initial organization stays invisible to it, and
		// the reverse.
		theirs := mkBucket(t, n, n.AdminKey, obj{"name": unique("theirs")})["_id"].(string)
		mine := mkBucket(t, n, orgKey, obj{"name": unique("mine")})
		wantValues(t, "bucket", mine, obj{"organizationId": orgID})
		items, _ = wantList(t, asKey(t, n, orgKey, "GET", "/api/buckets", nil))
		if len(items) != 1 || items[0]["_id"] != mine["_id"] {
			t.Errorf("new organization lists %v, want only its bucket", items)
		}
		wantError(t, asKey(t, n, orgKey, "GET", "/api/buckets/"+theirs, nil), http.StatusNotFound, "Not Found", "Bucket not found")
		wantError(t, asKey(t, n, n.AdminKey, "GET", "/api/buckets/"+mine["_id"].(string), nil), http.StatusNotFound, "Not Found", "Bucket not found")
	})

	t.Run("list organizations", func(t *testing.T) {
		tests := []struct {
			name  string
			query string
			want  []string
			page  pagination
		}{
			{"all", "", []string{"default", orgName}, pagination{Limit: 100, Total: 2}},
			{"first", "?limit=1", []string{"default"}, pagination{Limit: 1, Total: 2, HasMore: true}},
			{"second", "?limit=1&offset=1", []string{orgName}, pagination{Limit: 1, Offset: 1, Total: 2}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := asOperator(t, n, "GET", "/api/operator/orgs"+tt.query, nil)
				items, p := wantList(t, r)
				if p != tt.page {
					t.Errorf("pagination = %+v, want %+v", p, tt.page)
				}
				var names []string
				for _, it := range items {
					wantFields(t, "org", it, orgFields...)
					wantID(t, it, "_id")
					names = append(names, it["name"].(string))
					if it["name"] == "default" && it["plan"] != "enterprise" {
						t.Errorf("initial organization plan = %v, want enterprise", it["plan"])
					}
				}
				if !reflect.DeepEqual(names, tt.want) {
					t.Errorf("names = %v, want %v", names, tt.want)
				}
				if strings.Contains(string(r.Body), "dakkio_a_") || strings.Contains(string(r.Body), `"hash"`) {
					t.Errorf("organization list shows a key: %s", r.Body)
				}
			})
		}
	})

	t.Run("patch organization", func(t *testing.T) {
		id, _ := mkOrg(t, n, unique("patchme"))
		newName := unique("renamed")
		tests := []struct {
			name string
			body obj
			want obj
		}{
			{"plan pro", obj{"plan": "pro"}, obj{"plan": "pro"}},
			{"plan enterprise", obj{"plan": "enterprise"}, obj{"plan": "enterprise"}},
			{"name", obj{"name": newName}, obj{"name": newName, "plan": "enterprise"}},
			{"both", obj{"name": newName + "-2", "plan": "free"}, obj{"name": newName + "-2", "plan": "free"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := dataObj(t, asOperator(t, n, "PATCH", "/api/operator/orgs/"+id, tt.body), http.StatusOK)
				wantFields(t, "org", got, orgFields...)
				wantValues(t, "org", got, tt.want)
				wantValues(t, "org", got, obj{"_id": id})
				if c, u := wantTime(t, got, "createdAt"), wantTime(t, got, "updatedAt"); u.Before(c) {
					t.Errorf("updatedAt %v before createdAt %v", u, c)
				}
				items, _ := wantList(t, asOperator(t, n, "GET", "/api/operator/orgs?limit=1000", nil))
				for _, it := range items {
					if it["_id"] == id {
						wantValues(t, "listed org", it, got)
					}
				}
			})
		}
		t.Run("unknown organization", func(t *testing.T) {
			r := asOperator(t, n, "PATCH", "/api/operator/orgs/0123456789abcdef01234567", obj{"plan": "pro"})
			wantError(t, r, http.StatusNotFound, "Not Found", "Organization not found")
		})
	})

	t.Run("extra admin key", func(t *testing.T) {
		tests := []struct {
			name     string
			body     any
			wantName string
		}{
			{"named", obj{"name": "ci"}, "ci"},
			{"no body", nil, "admin"},
			{"empty object", obj{}, "admin"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k := dataObj(t, asOperator(t, n, "POST", "/api/operator/orgs/"+orgID+"/keys", tt.body), http.StatusCreated)
				wantFields(t, "admin key", k, "_id", "name", "type", "key", "keyPrefix", "organizationId", "createdAt")
				wantValues(t, "admin key", k, obj{"name": tt.wantName, "type": "admin", "organizationId": orgID})
				key := k["key"].(string)
				if !strings.HasPrefix(key, "dakkio_a_") || k["keyPrefix"] != key[:12] {
					t.Errorf("key %q keyPrefix %v", key, k["keyPrefix"])
				}
				items, _ := wantList(t, asKey(t, n, key, "GET", "/api/buckets", nil))
				if len(items) != 1 || items[0]["organizationId"] != orgID {
					t.Errorf("extra admin key lists %v, want the organization's one bucket", items)
				}
			})
		}
		t.Run("unknown organization", func(t *testing.T) {
			r := asOperator(t, n, "POST", "/api/operator/orgs/0123456789abcdef01234567/keys", nil)
			wantError(t, r, http.StatusNotFound, "Not Found", "Organization not found")
		})
	})

	t.Run("cluster status", func(t *testing.T) {
		var st clusterStatus
		if err := json.Unmarshal(wantData(t, asOperator(t, n, "GET", "/api/operator/cluster", nil), http.StatusOK), &st); err != nil {
			t.Fatal(err)
		}
		if st.NodeID != "node1" || st.LeaderID != "node1" {
			t.Errorf("nodeId %q leaderId %q, want node1", st.NodeID, st.LeaderID)
		}
		if len(st.Nodes) != 1 {
			t.Fatalf("nodes = %+v, want one", st.Nodes)
		}
		want := nodeStatus{NodeID: "node1", HTTPAddress: n.HTTPAddr(), RaftAddress: st.Raft.RaftAddress, State: "Leader", Voter: true, Healthy: true}
		if st.Nodes[0] != want {
			t.Errorf("node = %+v, want %+v", st.Nodes[0], want)
		}
		if st.Raft.State != "Leader" || st.Raft.LeaderID != "node1" || st.Raft.RaftAddress == "" || st.Raft.AppliedIndex == 0 {
			t.Errorf("raft = %+v", st.Raft)
		}
	})

	t.Run("operator authentication", func(t *testing.T) {
		bare := client.New(n.URL)
		endpoints := []struct {
			name, method, path string
			body               any
		}{
			{"create org", "POST", "/api/operator/orgs", obj{"name": unique("denied")}},
			{"list orgs", "GET", "/api/operator/orgs", nil},
			{"patch org", "PATCH", "/api/operator/orgs/" + orgID, obj{"plan": "enterprise"}},
			{"create admin key", "POST", "/api/operator/orgs/" + orgID + "/keys", nil},
			{"cluster", "GET", "/api/operator/cluster", nil},
		}
		creds := []struct {
			name   string
			header http.Header
		}{
			{"missing token", nil},
			{"empty token", http.Header{"X-Operator-Token": {""}}},
			{"wrong token", http.Header{"X-Operator-Token": {secret.New(secret.OperatorPrefix)}}},
			{"token with a suffix", http.Header{"X-Operator-Token": {n.OperatorToken + "x"}}},
			{"admin key as token", http.Header{"X-Operator-Token": {n.AdminKey}}},
			{"admin key as X-API-Key", http.Header{"X-Api-Key": {n.AdminKey}}},
			{"token as X-API-Key", http.Header{"X-Api-Key": {n.OperatorToken}}},
		}
		before := world(t, n, n.AdminKey, orgKey)
		for _, e := range endpoints {
			for _, c := range creds {
				t.Run(e.name+"/"+c.name, func(t *testing.T) {
					r := send(t, bare, e.method, e.path, e.body, c.header)
					wantError(t, r, http.StatusUnauthorized, "Unauthorized", "Invalid or missing operator token")
				})
			}
		}
		unchanged(t, n, before, n.AdminKey, orgKey)
	})
}

func TestE2EHealth(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	tests := []struct {
		name, path string
		header     http.Header
		want       string
	}{
		{"health", "/health", nil, `{"data":{"status":"ok"},"metadata":{}}`},
		{"ready", "/ready", nil, `{"data":{"status":"ready"},"metadata":{}}`},
		{"health ignores a bad key", "/health", keyHeader("nonsense"), `{"data":{"status":"ok"},"metadata":{}}`},
		{"ready ignores a bad token", "/ready", http.Header{"X-Operator-Token": {"nonsense"}}, `{"data":{"status":"ready"},"metadata":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, client.New(n.URL), "GET", tt.path, nil, tt.header)
			wantData(t, r, http.StatusOK)
			var got, want any
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal([]byte(tt.want), &want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("body = %s, want %s", r.Body, tt.want)
			}
		})
	}
}

// clusterStatus is the document of GET /api/operator/cluster.
type clusterStatus struct {
	NodeID   string       `json:"nodeId"`
	LeaderID string       `json:"leaderId"`
	Nodes    []nodeStatus `json:"nodes"`
	Raft     struct {
		NodeID       string `json:"nodeId"`
		RaftAddress  string `json:"raftAddress"`
		State        string `json:"state"`
		LeaderID     string `json:"leaderId"`
		AppliedIndex uint64 `json:"appliedIndex"`
	} `json:"raft"`
}

type nodeStatus struct {
	NodeID      string `json:"nodeId"`
	HTTPAddress string `json:"httpAddress"`
	RaftAddress string `json:"raftAddress"`
	State       string `json:"state"`
	Voter       bool   `json:"voter"`
	Healthy     bool   `json:"healthy"`
}
