package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The HTTP hardening of a real dakkio process: uploads without credentials
// cost no memory, slow and idle connections are cut off, and one client
// address cannot hold more than its share of connections.

// vmRSS returns the resident set size of process pid, in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc to read memory from: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("cannot parse %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestUnauthenticatedUploadsCostNoMemory: 40 uploads of 10 MiB without a
// valid API key, each sending 8 MiB and held open, grow the node's RSS by
// less than 64 MiB. (Reading bodies before credentials took a node from
// 22 MB to 664 MB.)
func TestUnauthenticatedUploadsCostNoMemory(t *testing.T) {
	s := startServer(t, "node", t.TempDir(), nil, nil)
	pid := s.cmd.Process.Pid
	before := vmRSS(t, pid)

	const uploads, size, sent = 40, 10 << 20, 8 << 20
	addr := strings.TrimPrefix(s.url, "http://")
	chunk := bytes.Repeat([]byte("x"), 256<<10)
	conns := make([]net.Conn, uploads)
	var wg sync.WaitGroup
	for i := range conns {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = conn
		defer conn.Close() // held open until the memory is measured
		// No key, a malformed one, an unknown one.
		key := ""
		switch i % 3 {
		case 1:
			key = "\r\nX-API-Key: nope"
		case 2:
			key = "\r\nX-API-Key: dk_admin_" + strings.Repeat("a", 40)
		}
		wg.Go(func() {
			_ = conn.SetWriteDeadline(time.Now().Add(60 * time.Second))
			head := fmt.Sprintf("POST /api/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d%s\r\n\r\n", size, key)
			if _, err := conn.Write([]byte(head)); err != nil {
				return
			}
			for n := 0; n < sent; n += len(chunk) {
				if _, err := conn.Write(chunk); err != nil {
					return // refused and closed: what should happen
				}
			}
		})
	}
	wg.Wait()
	after := vmRSS(t, pid)
	t.Logf("RSS %d MiB before, %d MiB with %d uploads of %d MiB held open", before>>20, after>>20, uploads, size>>20)
	if grown := after - before; grown >= 64<<20 {
		t.Fatalf("RSS grew by %d MiB (from %d to %d MiB), want < 64 MiB: bodies are read before credentials", grown>>20, before>>20, after>>20)
	}
}

// closedWithin reads conn until the server closes it and returns how long
// that took from start; it fails the test if conn is still open at limit.
func closedWithin(t *testing.T, conn net.Conn, r *bufio.Reader, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	took, _ := readUntilClosed(t, conn, r, start, limit)
	return took
}

// readUntilClosed is closedWithin that also returns what the server wrote
// before closing.
func readUntilClosed(t *testing.T, conn net.Conn, r *bufio.Reader, start time.Time, limit time.Duration) (time.Duration, []byte) {
	t.Helper()
	_ = conn.SetReadDeadline(start.Add(limit))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == nil {
			continue // an error answer before the close
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection still open after %s", limit)
		}
		return time.Since(start), got
	}
}

// TestSlowAndIdleConnectionsAreClosed: with --http-read-header-timeout 1s
// and --http-idle-timeout 1s, a client sending one header line every 200 ms,
// a connection that sends nothing, and a kept-alive connection left idle
// are each closed about a second later. The two that sent nothing are
// closed without an answer: an HTTP client that opened a connection it has
// not used yet must not find an unsolicited response on it (Go's logs
// "Unsolicited response received on idle HTTP channel").
func TestSlowAndIdleConnectionsAreClosed(t *testing.T) {
	s := startServer(t, "node", t.TempDir(), []string{"DAKKIO_HTTP_READ_HEADER_TIMEOUT=1s", "DAKKIO_HTTP_IDLE_TIMEOUT=1s"}, nil)
	addr := strings.TrimPrefix(s.url, "http://")
	const limit = 8 * time.Second // the old server kept such connections 60 s and more

	t.Run("slow headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		stop := make(chan struct{})
		defer close(stop)
		go func() { // one header line every 200 ms, never the blank line
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			_, _ = conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n"))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := fmt.Fprintf(conn, "X-Slow-%d: y\r\n", i); err != nil {
					return
				}
			}
		}()
		took := closedWithin(t, conn, bufio.NewReader(conn), start, limit)
		if took < 900*time.Millisecond || took > 4*time.Second {
			t.Fatalf("dribbling connection closed after %s, want about the 1s header timeout", took)
		}
	})

	t.Run("nothing sent", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		took, got := readUntilClosed(t, conn, bufio.NewReader(conn), start, limit)
		if took > 4*time.Second {
			t.Fatalf("silent connection closed after %s, want about 1s", took)
		}
		if len(got) > 0 {
			t.Fatalf("silent connection got %q before the close, want nothing", got)
		}
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		_ = conn.SetDeadline(time.Now().Add(limit))
		if _, err := conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("GET /health: %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
		}
		idleSince := time.Now()
		took, got := readUntilClosed(t, conn, r, idleSince, limit)
		if took < 900*time.Millisecond || took > 4*time.Second {
			t.Fatalf("idle connection closed after %s, want about the 1s idle timeout", took)
		}
		if len(got) > 0 {
			t.Fatalf("idle connection got %q before the close, want nothing", got)
		}
	})
}

// TestConnectionsPerClientAreCapped: with --http-max-conns-per-ip 8, of 12
// connections held open from one address at most 8 are served; the others
// get 429 and are closed; once they close, new ones are served again.
func TestConnectionsPerClientAreCapped(t *testing.T) {
	const maxConns, tries = 8, 12
	s := startServer(t, "node", t.TempDir(), []string{"DAKKIO_HTTP_MAX_CONNS_PER_IP=" + strconv.Itoa(maxConns)}, nil)
	s.hc.CloseIdleConnections()
	addr := strings.TrimPrefix(s.url, "http://")

	health := func(conn net.Conn) (int, error) {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	served, refused := 0, 0
	var conns []net.Conn
	for range tries {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		switch status, err := health(conn); {
		case err == nil && status == http.StatusOK:
			served++
		case err == nil && status == http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("GET /health: status %d, err %v; want 200 or 429", status, err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	if served > maxConns || refused == 0 {
		t.Fatalf("of %d connections held open, %d served and %d refused; want at most %d served", tries, served, refused, maxConns)
	}
	// The slots are given back when the connections close.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		status, err := health(conn)
		conn.Close()
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the connections closed: status %d, err %v; want 200", status, err)
		}
	}
}
