package httpapi_test

import (
	"io"
	"net/http"
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
	}{
		{"HEAD on a GET route", http.MethodHead, "/health", http.StatusOK, ""},
		{"DELETE on a GET route", http.MethodDelete, "/health", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"PUT on a bucket", http.MethodPut, "/api/buckets/6b09673a9aad6cf0447cf21d", http.StatusMethodNotAllowed, "GET, HEAD, PATCH, DELETE"},
		{"PUT on the bucket list", http.MethodPut, "/api/buckets", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
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
			if c.method == http.MethodHead && len(body) != 0 {
				t.Errorf("HEAD answered with a body: %q", body)
			}
		})
	}
}
