package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

// Credentials are checked from the headers before the body is read: these
// tests send the headers of a large upload and only a small part of its
// body, then wait for the answer. A server that read the body first would
// wait for the rest and never answer.

// hostOf is the host:port of a node's URL.
func hostOf(n *testnode.Node) string { return strings.TrimPrefix(n.URL, "http://") }

// rawExchange opens a connection to addr, writes head (request line and
// headers, without the blank line) and then body, and returns the answer
// read within timeout. Write errors are ignored: the server may refuse the
// request and close before the body is all sent.
func rawExchange(t *testing.T, addr, head string, body []byte, timeout time.Duration) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	_, _ = conn.Write([]byte(head + "\r\n\r\n"))
	_, _ = conn.Write(body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: no answer within %s: %v", strings.SplitN(head, "\r\n", 2)[0], timeout, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// wantRawError checks a raw answer's status and error envelope.
func wantRawError(t *testing.T, resp *http.Response, body []byte, status int, typ string) {
	t.Helper()
	var env struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Error != typ || env.Message == "" {
		t.Fatalf("body = %s, want the error envelope of %q", body, typ)
	}
}

// TestUnauthenticatedBodyIsNotRead: a 10 MiB upload without valid
// credentials, of which 64 KiB are sent, is refused with 401 at once, on
// the public, operator and internal routes.
func TestUnauthenticatedBodyIsNotRead(t *testing.T) {
	n := testnode.Start(t, func(c *node.Config) { c.ClusterKey = "a-cluster-key-of-some-length" })
	part := bytes.Repeat([]byte("x"), 64<<10)
	upload := func(path, header string) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d%s", path, 10<<20, header)
	}
	cases := []struct{ name, head string }{
		{"no key", upload("/api/data", "")},
		{"malformed key", upload("/api/data", "\r\nX-API-Key: nope")},
		{"wrong prefix", upload("/api/data", "\r\nX-API-Key: "+secret.New(secret.OperatorPrefix))},
		{"unknown key", upload("/api/data/batch", "\r\nX-API-Key: "+secret.New(secret.AdminPrefix))},
		{"bad operator token", upload("/api/operator/restore/points", "\r\nX-Operator-Token: "+secret.New(secret.OperatorPrefix))},
		{"no node signature", upload("/internal/write", "")},
		{"malformed node signature", upload("/internal/apply", "\r\n"+nodeauth.HeaderName+": v1 t=1,n=00,s=00")},
		{"retired v1 node signature", upload("/internal/apply", "\r\n"+nodeauth.HeaderName+": v1 t=1700000000,n="+strings.Repeat("0", 32)+",s="+strings.Repeat("0", 64))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawExchange(t, hostOf(n), tc.head, part, 5*time.Second)
			wantRawError(t, resp, body, http.StatusUnauthorized, "Unauthorized")
		})
	}
}

// TestWrongKeyNodeCallBodyIsNotRead: a node call signed as a node signs
// it, but with another cluster's key, is refused with 401 from its headers
// alone: the 10 MiB it declares are never waited for nor counted against
// the bodies in flight. A node call with a genuine signature whose body is
// not the one it signed is refused once read.
func TestWrongKeyNodeCallBodyIsNotRead(t *testing.T) {
	const clusterKey = "a-cluster-key-of-some-length"
	n := testnode.Start(t, func(c *node.Config) { c.ClusterKey = clusterKey })
	// More than the 8 KiB fasthttp reads of a body before it calls the
	// handler, far less than declared.
	part := bytes.Repeat([]byte("x"), 16<<10)
	wrongKey := nodeauth.DeriveKey("another-cluster-key-entirely", nodeauth.PurposeRPC)
	for _, path := range []string{"/internal/apply", "/internal/write"} {
		t.Run(path, func(t *testing.T) {
			body := bytes.Repeat([]byte("x"), 10<<20)
			sig := nodeauth.Sign(wrongKey, "POST", path, body, time.Now())
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s: %s",
				path, len(body), nodeauth.HeaderName, sig)
			start := time.Now()
			resp, out := rawExchange(t, hostOf(n), head, part, 3*time.Second)
			wantRawError(t, resp, out, http.StatusUnauthorized, "Unauthorized")
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("401 after %s; it must not wait for the body", d)
			}
		})
	}
	t.Run("body other than signed", func(t *testing.T) {
		key := nodeauth.DeriveKey(clusterKey, nodeauth.PurposeRPC)
		signed, sent := []byte(`{"a":1}`), []byte(`{"a":2}`)
		sig := nodeauth.Sign(key, "POST", "/internal/apply", signed, time.Now())
		head := fmt.Sprintf("POST /internal/apply HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s: %s",
			len(sent), nodeauth.HeaderName, sig)
		resp, out := rawExchange(t, hostOf(n), head, sent, 5*time.Second)
		wantRawError(t, resp, out, http.StatusUnauthorized, "Unauthorized")
	})
}

// TestBodiesInFlightAreBounded: while held uploads fill the bound of body
// bytes in flight, another authenticated upload gets 503 with Retry-After,
// without its body being read; once they end, uploads pass again. Bodies
// over the maximum are still 413: declared ones before the credentials are
// looked at, chunked ones once they grow past it.
func TestBodiesInFlightAreBounded(t *testing.T) {
	n := testnode.Start(t, func(c *node.Config) {
		c.MaxBodyBytes = 1 << 20
		c.HTTPLimits.MaxBodyBytesInFlight = 2 << 20
	})
	head := func(size int) string {
		return fmt.Sprintf("POST /api/data HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nContent-Length: %d", n.AdminKey, size)
	}
	// Two uploads of 1 MiB, held after their first 64 KiB, fill the bound.
	// Each is seen reserved before the next goes: a probe sent while only
	// one held, or the second held upload itself, would be the one refused.
	var held []net.Conn
	for i := range 2 {
		conn, err := net.Dial("tcp", hostOf(n))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
		defer conn.Close()
		if _, err := conn.Write([]byte(head(1<<20) + "\r\n\r\n" + strings.Repeat(" ", 64<<10))); err != nil {
			t.Fatal(err)
		}
		waitBodyBytesInFlight(t, n, int64(i+1)<<20)
	}
	resp, body := rawExchange(t, hostOf(n), head(100<<10), bytes.Repeat([]byte(" "), 100<<10), 5*time.Second)
	wantRawError(t, resp, body, http.StatusServiceUnavailable, "Service Unavailable")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	for _, c := range held {
		c.Close()
	}
	// The bound frees up once the held uploads are gone.
	waitBodyBytesInFlight(t, n, 0)
	resp, body = rawExchange(t, hostOf(n), head(2), []byte("{}"), 5*time.Second)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("after the held uploads closed: status %d, want 400 (validation); body %s", resp.StatusCode, body)
	}

	// The server reads the first 8 KiB of a body before it answers.
	resp, body = rawExchange(t, hostOf(n), "POST /api/data HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577", make([]byte, 16<<10), 5*time.Second)
	wantRawError(t, resp, body, http.StatusRequestEntityTooLarge, "Payload Too Large")
	var chunked bytes.Buffer
	for range 260 {
		fmt.Fprintf(&chunked, "1000\r\n%s\r\n", strings.Repeat(" ", 0x1000))
	}
	chunked.WriteString("0\r\n\r\n")
	resp, body = rawExchange(t, hostOf(n), "POST /api/data HTTP/1.1\r\nHost: x\r\nX-API-Key: "+n.AdminKey+"\r\nTransfer-Encoding: chunked", chunked.Bytes(), 5*time.Second)
	wantRawError(t, resp, body, http.StatusRequestEntityTooLarge, "Payload Too Large")
}

// waitBodyBytesInFlight polls GET /metrics until the node reports want
// bytes of request bodies in flight.
func waitBodyBytesInFlight(t *testing.T, n *testnode.Node, want int64) {
	t.Helper()
	const name = "dakkio_http_request_body_bytes_in_flight"
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		got := n.Metric(t, name)
		if got == float64(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v, want %d", name, got, want)
		}
	}
}

// TestMetricsBoundMethodsAndCountEveryStatus: an unknown method is counted
// as "other", never under its own name, and 413s are counted.
func TestMetricsBoundMethodsAndCountEveryStatus(t *testing.T) {
	n := testnode.Start(t, func(c *node.Config) { c.MaxBodyBytes = 64 << 10 })
	for _, m := range []string{"FOO", "XYZZY"} {
		resp, _ := rawExchange(t, hostOf(n), m+" /api/data HTTP/1.1\r\nHost: x", nil, 5*time.Second)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s /api/data: status %d, want 405", m, resp.StatusCode)
		}
	}
	resp, _ := rawExchange(t, hostOf(n), "POST /api/data HTTP/1.1\r\nHost: x\r\nContent-Length: 70000", make([]byte, 16<<10), 5*time.Second)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: status %d, want 413", resp.StatusCode)
	}
	mresp, err := n.HTTP.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer mresp.Body.Close()
	text, _ := io.ReadAll(mresp.Body)
	var requests []string
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "dakkio_http_requests_total{") {
			requests = append(requests, line)
		}
	}
	all := strings.Join(requests, "\n")
	for _, bad := range []string{`method="FOO"`, `method="XYZZY"`} {
		if strings.Contains(all, bad) {
			t.Errorf("a series carries %s; unknown methods must share method=\"other\":\n%s", bad, all)
		}
	}
	for _, want := range []string{
		`dakkio_http_requests_total{method="other",route="unmatched",status="405"} 2`,
		`dakkio_http_requests_total{method="POST",route="/api/data",status="413"} 1`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %s in:\n%s", want, all)
		}
	}
}

// TestRefusedUploadsGetTheirAnswer: a client that sends a whole large body
// gets the refusal the server decided on from the headers, every time. The
// server answers at once and then reads the body off before closing: closed
// with the body still arriving, the connection was reset and Go's client
// lost the 413 or 401 in most tries.
func TestRefusedUploadsGetTheirAnswer(t *testing.T) {
	n := testnode.Start(t, func(c *node.Config) { c.MaxBodyBytes = 1 << 20 })
	bid := mkBucket(t, n, n.AdminKey, obj{"name": unique("big")})["_id"].(string)
	_, wkey := mkKey(t, n, n.AdminKey, bid, "write")
	// Bodies past what fasthttp reads off by itself (256 KiB).
	cases := []struct {
		name, path, key string
		size, status    int
	}{
		{"over the limit", "/api/data/batch", wkey, 4 << 20, http.StatusRequestEntityTooLarge},
		{"over the limit, line protocol", "/api/v2/write?bucket=" + bid, wkey, 4 << 20, http.StatusRequestEntityTooLarge},
		{"unknown key", "/api/data/batch", "dakkio_w_" + strings.Repeat("0", 40), 900 << 10, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for try := range 8 {
				// A fresh connection each time: the refusal closes it.
				client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
				req, err := http.NewRequest("POST", n.URL+tc.path, bytes.NewReader(bytes.Repeat([]byte("x"), tc.size)))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("X-API-Key", tc.key)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("try %d: no answer: %v", try, err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status || len(got) == 0 {
					t.Fatalf("try %d: %d %s, want %d with its error body", try, resp.StatusCode, got, tc.status)
				}
			}
		})
	}
}
