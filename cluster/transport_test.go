package cluster

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dakkio/dakkio/internal/testcert"
)

func testStream(t *testing.T, key string, tlsConf *tls.Config) *authStream {
	t.Helper()
	s, err := newAuthStream("127.0.0.1:0", "", []byte(key), tlsConf, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestAuthStream: a node holding the key connects and talks; a node with
// another key, or a plain TCP client, gets nothing through.
func TestAuthStream(t *testing.T) {
	server := testStream(t, "cluster key one", nil)
	addr := raft.ServerAddress(server.Addr().String())

	t.Run("same key", func(t *testing.T) {
		c, err := testStream(t, "cluster key one", nil).Dial(addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		in, err := server.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		if _, err := c.Write([]byte("append entries")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len("append entries"))
		if _, err := io.ReadFull(in, got); err != nil || !bytes.Equal(got, []byte("append entries")) {
			t.Fatalf("read %q, %v", got, err)
		}
	})
	t.Run("other key", func(t *testing.T) {
		if c, err := testStream(t, "cluster key two", nil).Dial(addr, time.Second); err == nil {
			c.Close()
			t.Fatal("a node with another key connected")
		}
	})
	t.Run("plain TCP", func(t *testing.T) {
		c, err := net.Dial("tcp", string(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Skip the nonce, write garbage where the proof goes: the server
		// must close the connection without reading anything further.
		nonce := make([]byte, nonceLen)
		if _, err := io.ReadFull(c, nonce); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(bytes.Repeat([]byte{'x'}, 32)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
			t.Fatalf("server answered a bad proof (%d bytes, %v)", n, err)
		}
	})
	if got := server.Addr().Network(); got != "tcp" {
		t.Fatalf("network %q", got)
	}
}

// TestAuthStreamAdvertisesNames: the advertised address is kept as given,
// so the Raft configuration holds host names, not the IPs they resolved to.
func TestAuthStreamAdvertisesNames(t *testing.T) {
	s, err := newAuthStream("127.0.0.1:0", "node1.example:8300", []byte("k"), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Addr().String(); got != "node1.example:8300" {
		t.Fatalf("advertises %q", got)
	}
}

// mutualTLS is the node-to-node TLS configuration a node builds.
func mutualTLS(ca *testcert.CA, cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		RootCAs: ca.Pool(), ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
}

// exchange checks that bytes written on c arrive on the server's next
// accepted connection, and that they crossed the wire encrypted.
func exchange(t *testing.T, server *authStream, c net.Conn) {
	t.Helper()
	in, err := server.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, ok := in.(*tls.Conn); !ok {
		t.Fatalf("accepted a %T, want a *tls.Conn", in)
	}
	if _, ok := c.(*tls.Conn); !ok {
		t.Fatalf("dialed a %T, want a *tls.Conn", c)
	}
	msg := []byte("append entries")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(in, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read %q, %v", got, err)
	}
}

// TestAuthStreamTLS: with TLS, a node needs both a certificate from the
// cluster's CA and the cluster key; it verifies the certificate of the node
// it dials, host included; a dialer without TLS gets nothing through.
func TestAuthStreamTLS(t *testing.T) {
	ca, otherCA := testcert.NewCA(t, "cluster CA"), testcert.NewCA(t, "other CA")
	const key = "cluster key one"
	server := testStream(t, key, mutualTLS(ca, ca.Certificate(t, "server", "127.0.0.1")))
	addr := raft.ServerAddress(server.Addr().String())

	t.Run("same CA and key", func(t *testing.T) {
		c, err := testStream(t, key, mutualTLS(ca, ca.Certificate(t, "client", "127.0.0.1"))).Dial(addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		exchange(t, server, c)
	})
	refused := []struct {
		name   string
		dialer *authStream
	}{
		{"same CA, other key", testStream(t, "cluster key two", mutualTLS(ca, ca.Certificate(t, "client", "127.0.0.1")))},
		{"certificate of another CA", testStream(t, key, mutualTLS(ca, otherCA.Certificate(t, "rogue", "127.0.0.1")))},
		{"trusts another CA", testStream(t, key, mutualTLS(otherCA, ca.Certificate(t, "client", "127.0.0.1")))},
		{"no TLS", testStream(t, key, nil)},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := tc.dialer.Dial(addr, time.Second); err == nil {
				c.Close()
				t.Fatal("connected")
			}
		})
	}
	t.Run("server certificate for another host", func(t *testing.T) {
		impostor := testStream(t, key, mutualTLS(ca, ca.Certificate(t, "impostor", "node9.example")))
		dialer := testStream(t, key, mutualTLS(ca, ca.Certificate(t, "client", "127.0.0.1")))
		if c, err := dialer.Dial(raft.ServerAddress(impostor.Addr().String()), time.Second); err == nil {
			c.Close()
			t.Fatal("connected to a server whose certificate does not name its address")
		}
	})
}
