package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dakkio/dakkio/internal/testnode"
)

// TestE2EMethods: HEAD answers like GET without a body, and a 405 names the
// methods the path does answer in Allow.
func TestE2EMethods(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	cases := []struct {
		name, method, path string
		status             int
		allow              string
		body               string // a fragment of the 405's body, in the protocol's own shape
	}{
		{"HEAD on a GET route", http.MethodHead, "/health", http.StatusOK, "", ""},
		{"DELETE on a GET route", http.MethodDelete, "/health", http.StatusMethodNotAllowed, "GET, HEAD", `"error":"Method Not Allowed"`},
		{"PUT on a bucket", http.MethodPut, "/api/buckets/6b09673a9aad6cf0447cf21d", http.StatusMethodNotAllowed, "GET, HEAD, PATCH, DELETE", `"error":"Method Not Allowed"`},
		{"PUT on the bucket list", http.MethodPut, "/api/buckets", http.StatusMethodNotAllowed, "GET, HEAD, POST", `"error":"Method Not Allowed"`},
		{"PUT on line protocol", http.MethodPut, "/api/v2/write", http.StatusMethodNotAllowed, "POST", `{"code":"method not allowed","message":`},
		{"GET on InfluxDB 1's write", http.MethodGet, "/write", http.StatusMethodNotAllowed, "POST", `{"code":"method not allowed","message":`},
		{"DELETE on a PromQL query", http.MethodDelete, "/api/v1/query", http.StatusMethodNotAllowed, "GET, HEAD, POST", `{"status":"error","errorType":`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, n.URL+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-API-Key", n.AdminKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, c.status, body)
			}
			if got := resp.Header.Get("Allow"); got != c.allow {
				t.Errorf("Allow = %q, want %q", got, c.allow)
			}
			if !strings.Contains(string(body), c.body) {
				t.Errorf("body %s, want it to contain %s", body, c.body)
			}
			if c.method == http.MethodHead && len(body) != 0 {
				t.Errorf("HEAD answered with a body: %q", body)
			}
		})
	}
}
