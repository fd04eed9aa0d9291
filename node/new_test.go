package node_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

// freeAddr returns a loopback TCP address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestNewFailingReleasesWhatItOpened: when New fails part way (Raft or
// gossip cannot bind), the listeners and the data directory's stores it
// had opened are released, so the same config with the address freed
// starts at once.
func TestNewFailingReleasesWhatItOpened(t *testing.T) {
	for _, tc := range []struct {
		name string
		take func(cfg *node.Config, busy string) (restore func())
	}{
		{"raft address taken", func(cfg *node.Config, busy string) func() {
			free := cfg.RaftAddr
			cfg.RaftAddr = busy
			return func() { cfg.RaftAddr = free }
		}},
		{"gossip address taken", func(cfg *node.Config, busy string) func() {
			cfg.GossipAddr = busy
			return func() { cfg.GossipAddr = "127.0.0.1:0" }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			cfg := node.Config{
				NodeID: "node1", DataDir: t.TempDir(),
				HTTPAddr: freeAddr(t), RaftAddr: freeAddr(t), GossipAddr: "127.0.0.1:0",
				ClusterKey:      secret.New("k"),
				InitialAdminKey: secret.New(secret.AdminPrefix), OperatorToken: secret.New(secret.OperatorPrefix),
				FastRaft: true, Logger: testnode.Logger(),
			}
			restore := tc.take(&cfg, busy.Addr().String())
			if _, err := node.New(cfg); err == nil {
				t.Fatal("New succeeded with an address taken")
			}
			restore()
			for _, addr := range []string{cfg.HTTPAddr, cfg.RaftAddr} {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					t.Fatalf("%s still held after the failed New: %v", addr, err)
				}
				ln.Close()
			}
			n, err := node.New(cfg)
			if err != nil {
				t.Fatalf("New on the same data dir after a failed New: %v", err)
			}
			defer n.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := n.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
		})
	}
}
