package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
)

// seen is one request as the fake server received it.
type seen struct {
	method, path, query string
	header              http.Header
	body                string
}

// fake starts a server that records each request and answers with status
// and body, and returns a client for it built with opts.
func fake(t *testing.T, status int, body string, opts ...client.Option) (*client.Client, *[]seen) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []seen
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(b)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-RateLimit-Remaining", "41")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return client.New(srv.URL+"/", opts...), &got
}

func last(t *testing.T, got *[]seen) seen {
	t.Helper()
	if len(*got) == 0 {
		t.Fatal("server received no request")
	}
	return (*got)[len(*got)-1]
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	desc := "d"
	plan := "pro"
	tests := []struct {
		name                string
		call                func(*client.Client) error
		method, path, query string
		body                string // expected JSON body; "" means none
		operator            bool   // authenticated with the operator token
	}{
		{"list buckets default page", func(c *client.Client) error { _, err := c.ListBuckets(ctx, client.Page{}); return err },
			"GET", "/api/buckets", "", "", false},
		{"list buckets page", func(c *client.Client) error {
			_, err := c.ListBuckets(ctx, client.Page{Limit: 10, Offset: 20})
			return err
		}, "GET", "/api/buckets", "limit=10&offset=20", "", false},
		{"create bucket omits nil", func(c *client.Client) error {
			_, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: "b", Description: &desc})
			return err
		}, "POST", "/api/buckets", "", `{"name":"b","description":"d"}`, false},
		{"get bucket escapes id", func(c *client.Client) error { _, err := c.GetBucket(ctx, "a/b c"); return err },
			"GET", "/api/buckets/a%2Fb%20c", "", "", false},
		{"update bucket", func(c *client.Client) error {
			_, err := c.UpdateBucket(ctx, "id1", client.UpdateBucketRequest{Description: &desc})
			return err
		}, "PATCH", "/api/buckets/id1", "", `{"description":"d"}`, false},
		{"delete bucket", func(c *client.Client) error { _, err := c.DeleteBucket(ctx, "id1"); return err },
			"DELETE", "/api/buckets/id1", "", "", false},
		{"create key", func(c *client.Client) error {
			_, err := c.CreateKey(ctx, "b1", client.CreateKeyRequest{Name: "k", Type: "read"})
			return err
		}, "POST", "/api/buckets/b1/keys", "", `{"name":"k","type":"read"}`, false},
		{"list keys", func(c *client.Client) error { _, err := c.ListKeys(ctx, "b1", client.Page{Limit: 5}); return err },
			"GET", "/api/buckets/b1/keys", "limit=5", "", false},
		{"delete key", func(c *client.Client) error { _, err := c.DeleteKey(ctx, "b1", "k1"); return err },
			"DELETE", "/api/buckets/b1/keys/k1", "", "", false},
		{"create source", func(c *client.Client) error {
			_, err := c.CreateSource(ctx, "b1", client.CreateSourceRequest{Name: "s", Schema: map[string]client.Field{"t": {Type: "number", Unit: "C"}}})
			return err
		}, "POST", "/api/buckets/b1/sources", "", `{"name":"s","schema":{"t":{"type":"number","unit":"C"}}}`, false},
		{"list sources", func(c *client.Client) error { _, err := c.ListSources(ctx, "b1", client.Page{Offset: 3}); return err },
			"GET", "/api/buckets/b1/sources", "offset=3", "", false},
		{"create org", func(c *client.Client) error {
			_, err := c.CreateOrg(ctx, client.CreateOrgRequest{Name: "acme"})
			return err
		}, "POST", "/api/operator/orgs", "", `{"name":"acme"}`, true},
		{"list orgs", func(c *client.Client) error { _, err := c.ListOrgs(ctx, client.Page{}); return err },
			"GET", "/api/operator/orgs", "", "", true},
		{"update org", func(c *client.Client) error {
			_, err := c.UpdateOrg(ctx, "o1", client.UpdateOrgRequest{Plan: &plan})
			return err
		}, "PATCH", "/api/operator/orgs/o1", "", `{"plan":"pro"}`, true},
		{"admin key named", func(c *client.Client) error { _, err := c.CreateAdminKey(ctx, "o1", "ci"); return err },
			"POST", "/api/operator/orgs/o1/keys", "", `{"name":"ci"}`, true},
		{"admin key unnamed", func(c *client.Client) error { _, err := c.CreateAdminKey(ctx, "o1", ""); return err },
			"POST", "/api/operator/orgs/o1/keys", "", `{}`, true},
		{"cluster status", func(c *client.Client) error { _, err := c.ClusterStatus(ctx); return err },
			"GET", "/api/operator/cluster", "", "", true},
		{"list admin keys", func(c *client.Client) error { _, err := c.ListAdminKeys(ctx, "o1", client.Page{Limit: 2}); return err },
			"GET", "/api/operator/orgs/o1/keys", "limit=2", "", true},
		{"revoke admin key", func(c *client.Client) error { _, err := c.RevokeAdminKey(ctx, "o1", "k1"); return err },
			"DELETE", "/api/operator/orgs/o1/keys/k1", "", "", true},
		{"rotate operator token", func(c *client.Client) error { _, err := c.RotateOperatorToken(ctx); return err },
			"POST", "/api/operator/token", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := `{"data":{},"metadata":{}}`
			if strings.HasPrefix(tt.name, "list") {
				resp = `{"data":[],"metadata":{},"pagination":{"limit":100}}`
			}
			c, got := fake(t, 200, resp, client.WithAPIKey("dakkio_a_key"), client.WithOperatorToken("optok"))
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			r := last(t, got)
			if r.method != tt.method || r.path != tt.path || r.query != tt.query {
				t.Errorf("sent %s %s?%s, want %s %s?%s", r.method, r.path, r.query, tt.method, tt.path, tt.query)
			}
			if r.body != tt.body {
				t.Errorf("body = %s, want %s", r.body, tt.body)
			}
			wantCT := ""
			if tt.body != "" {
				wantCT = "application/json"
			}
			if ct := r.header.Get("Content-Type"); ct != wantCT {
				t.Errorf("Content-Type = %q, want %q", ct, wantCT)
			}
			key, tok := r.header.Get("X-API-Key"), r.header.Get("X-Operator-Token")
			if tt.operator && (tok != "optok" || key != "") {
				t.Errorf("operator call sent key %q token %q", key, tok)
			}
			if !tt.operator && (key != "dakkio_a_key" || tok != "") {
				t.Errorf("public call sent key %q token %q", key, tok)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	ctx := context.Background()
	t.Run("list with pagination", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":[{"_id":"b1","name":"one","retentionDays":30,"createdAt":"2024-01-15T10:30:00.123456Z"},{"_id":"b2"}],
			"metadata":{},"pagination":{"limit":2,"offset":4,"total":9,"hasMore":true}}`)
		l, err := c.ListBuckets(ctx, client.Page{})
		if err != nil {
			t.Fatal(err)
		}
		want := client.Pagination{Limit: 2, Offset: 4, Total: 9, HasMore: true}
		if l.Pagination != want {
			t.Errorf("pagination = %+v, want %+v", l.Pagination, want)
		}
		if len(l.Data) != 2 || l.Data[0].Name != "one" || l.Data[0].RetentionDays != 30 || l.Data[1].ID != "b2" {
			t.Errorf("data = %+v", l.Data)
		}
		if ts := time.Date(2024, 1, 15, 10, 30, 0, 123456000, time.UTC); !l.Data[0].CreatedAt.Equal(ts) {
			t.Errorf("createdAt = %v", l.Data[0].CreatedAt)
		}
	})
	t.Run("bucket with stats", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":{"_id":"b1","name":"n","stats":{"dataSourceCount":2,"dataPointCount":12345678901,"apiKeyCount":3}}}`)
		b, err := c.GetBucket(ctx, "b1")
		if err != nil {
			t.Fatal(err)
		}
		if b.ID != "b1" || b.Stats != (client.BucketStats{DataSourceCount: 2, DataPointCount: 12345678901, APIKeyCount: 3}) {
			t.Errorf("bucket = %+v", b)
		}
	})
	t.Run("deleted key unwrapped", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":{"deletedKey":{"_id":"k1","name":"n","type":"write"}},"metadata":{}}`)
		k, err := c.DeleteKey(ctx, "b1", "k1")
		if err != nil {
			t.Fatal(err)
		}
		if *k != (client.DeletedKey{ID: "k1", Name: "n", Type: "write"}) {
			t.Errorf("deleted key = %+v", k)
		}
	})
	t.Run("created org", func(t *testing.T) {
		c, _ := fake(t, 201, `{"data":{"organization":{"_id":"o1","name":"acme","plan":"pro"},
			"adminKey":{"_id":"k1","name":"admin","type":"admin","key":"dakkio_a_secret","keyPrefix":"dakkio_a_sec","organizationId":"o1"}}}`)
		o, err := c.CreateOrg(ctx, client.CreateOrgRequest{Name: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		if o.Organization.Plan != "pro" || o.AdminKey.Key != "dakkio_a_secret" || o.AdminKey.OrganizationID != "o1" {
			t.Errorf("created org = %+v", o)
		}
	})
	t.Run("missing data", func(t *testing.T) {
		c, _ := fake(t, 200, `{"metadata":{}}`)
		if _, err := c.GetBucket(ctx, "b1"); err == nil {
			t.Error("no error for an envelope without data")
		}
	})
}

func TestAPIError(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   client.APIError // Header is not compared
		text   string          // expected Error()
	}{
		{
			name:   "validation with details",
			status: 400,
			body: `{"error":"Validation Error","message":"Invalid data point",
				"details":[{"path":["body","dataPoints",3,"values","temperature"],"message":"Expected number, received string"}]}`,
			want: client.APIError{StatusCode: 400, Type: "Validation Error", Message: "Invalid data point",
				Details: []client.Detail{{Path: []any{"body", "dataPoints", 3, "values", "temperature"}, Message: "Expected number, received string"}}},
			text: "dakkio: 400 Validation Error: Invalid data point; body.dataPoints[3].values.temperature: Expected number, received string",
		},
		{
			name:   "envelope without details",
			status: 401,
			body:   `{"error":"Unauthorized","message":"Invalid or missing API key"}`,
			want:   client.APIError{StatusCode: 401, Type: "Unauthorized", Message: "Invalid or missing API key"},
			text:   "dakkio: 401 Unauthorized: Invalid or missing API key",
		},
		{
			name:   "plain text body",
			status: 502,
			body:   "upstream gone\n",
			want:   client.APIError{StatusCode: 502, Message: "upstream gone"},
			text:   "dakkio: 502 Bad Gateway: upstream gone",
		},
		{
			name:   "json that is not the envelope",
			status: 500,
			body:   `{"oops":true}`,
			want:   client.APIError{StatusCode: 500, Message: `{"oops":true}`},
			text:   `dakkio: 500 Internal Server Error: {"oops":true}`,
		},
		{
			name:   "empty body",
			status: 503,
			want:   client.APIError{StatusCode: 503},
			text:   "dakkio: 503 Service Unavailable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := fake(t, tt.status, tt.body)
			_, err := c.GetBucket(context.Background(), "b1")
			var ae *client.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not an *APIError", err, err)
			}
			if ae.Header.Get("X-RateLimit-Remaining") != "41" {
				t.Errorf("response header not kept: %v", ae.Header)
			}
			got := *ae
			got.Header = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
			if err.Error() != tt.text {
				t.Errorf("Error() = %q\nwant      %q", err.Error(), tt.text)
			}
			if !client.IsStatus(err, tt.status) || client.IsStatus(err, tt.status+1) {
				t.Error("IsStatus disagrees with the status")
			}
		})
	}
	if client.IsStatus(errors.New("x"), 400) || client.IsStatus(nil, 400) {
		t.Error("IsStatus true for a non-API error")
	}
}

func TestHealthReady(t *testing.T) {
	ctx := context.Background()
	c, got := fake(t, 200, `{"status":"ok"}`, client.WithAPIKey("k"), client.WithOperatorToken("t"))
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	r := last(t, got)
	if r.path != "/health" || r.header.Get("X-API-Key") != "" || r.header.Get("X-Operator-Token") != "" {
		t.Errorf("health sent %s with %v", r.path, r.header)
	}
	c, _ = fake(t, 503, `{"error":"Service Unavailable","message":"no leader"}`)
	if err := c.Ready(ctx); !client.IsStatus(err, 503) {
		t.Errorf("Ready() = %v, want a 503 APIError", err)
	}
}

func TestDo(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		body    []byte
		header  http.Header
		wantKey []string // X-Api-Key values received
		wantTok []string
		wantCT  []string
	}{
		{"defaults", []byte(`{`), nil, []string{"k"}, []string{"t"}, []string{"application/json"}},
		{"no body no content type", nil, nil, []string{"k"}, []string{"t"}, nil},
		{"override key and type", []byte("x"), http.Header{"X-API-Key": {"other"}, "content-type": {"text/plain"}},
			[]string{"other"}, []string{"t"}, []string{"text/plain"}},
		{"suppress key", []byte("x"), http.Header{"X-Api-Key": nil, "X-Operator-Token": nil},
			nil, nil, []string{"application/json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, got := fake(t, 400, `{"error":"Bad Request","message":"Invalid JSON"}`, client.WithAPIKey("k"), client.WithOperatorToken("t"))
			resp, err := c.Do(ctx, "POST", "/api/data?consistency=all", tt.body, tt.header)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 400 || !strings.Contains(string(resp.Body), "Invalid JSON") || resp.Header.Get("X-RateLimit-Remaining") != "41" {
				t.Errorf("response = %d %q %v", resp.StatusCode, resp.Body, resp.Header)
			}
			r := last(t, got)
			if r.path != "/api/data" || r.query != "consistency=all" || r.body != string(tt.body) {
				t.Errorf("sent %s?%s %q", r.path, r.query, r.body)
			}
			for name, want := range map[string][]string{"X-Api-Key": tt.wantKey, "X-Operator-Token": tt.wantTok, "Content-Type": tt.wantCT} {
				if g := r.header.Values(name); !reflect.DeepEqual(g, want) {
					t.Errorf("%s = %q, want %q", name, g, want)
				}
			}
		})
	}
	t.Run("transport error", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		if _, err := client.New(srv.URL).Do(ctx, "GET", "/health", nil, nil); err == nil {
			t.Error("no error from a closed server")
		}
	})
}

func TestWithAPIKeyCopies(t *testing.T) {
	c, got := fake(t, 200, `{"data":[],"pagination":{}}`, client.WithAPIKey("first"))
	other := c.WithAPIKey("second")
	ctx := context.Background()
	if _, err := other.ListBuckets(ctx, client.Page{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListBuckets(ctx, client.Page{}); err != nil {
		t.Fatal(err)
	}
	if k := (*got)[0].header.Get("X-API-Key"); k != "second" {
		t.Errorf("copy sent %q", k)
	}
	if k := (*got)[1].header.Get("X-API-Key"); k != "first" {
		t.Errorf("original sent %q after copy", k)
	}
}

func TestRequestJSONNames(t *testing.T) {
	days, status, ds := 30, "archived", false
	b, err := json.Marshal(client.CreateSourceRequest{Name: "s", Type: "api", Schema: map[string]client.Field{}, Downsampling: &ds})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"s","type":"api","schema":{},"downsampling":false}`; string(b) != want {
		t.Errorf("source request = %s, want %s", b, want)
	}
	b, _ = json.Marshal(client.UpdateBucketRequest{RetentionDays: &days, Status: &status})
	if want := `{"retentionDays":30,"status":"archived"}`; string(b) != want {
		t.Errorf("bucket update = %s, want %s", b, want)
	}
}
