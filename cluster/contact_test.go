package cluster

import (
	"testing"
	"time"
)

// TestLeaderSeesWhoKeepsUp: the leader reaches a server of its cluster and
// not one holding another key; once both are non-voters, the one that
// answers its heartbeats keeps up after the stabilization time, the other
// never does, and a server that stops stops keeping up.
func TestLeaderSeesWhoKeepsUp(t *testing.T) {
	leader := openReady(t, t.TempDir(), "127.0.0.1:0")
	follower := open(t, t.TempDir(), "127.0.0.1:0", func(c *Config) { c.NodeID, c.BootstrapSelf = "n2", false })
	stranger := open(t, t.TempDir(), "127.0.0.1:0", func(c *Config) {
		c.NodeID, c.BootstrapSelf, c.Key = "n3", false, []byte("another cluster's key, 32 bytes!")
	})

	if err := leader.Reach(follower.Addr(), time.Second); err != nil {
		t.Fatalf("reach a server of the cluster: %v", err)
	}
	if err := leader.Reach(stranger.Addr(), time.Second); err == nil {
		t.Fatal("reached a server holding another key")
	}

	err := leader.Reconcile([]ReconcileAction{
		{Kind: ActionAddNonvoter, ID: "n2", RaftAddr: follower.Addr()},
		{Kind: ActionAddNonvoter, ID: "n3", RaftAddr: stranger.Addr()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if leader.KeepsUp("n2", time.Minute) {
		t.Fatal("n2 kept up for a minute right after it was added")
	}
	const stable = 300 * time.Millisecond
	waitGossip(t, "n2 keeps up", func() (bool, string) { return leader.KeepsUp("n2", stable), "it does not" })
	if leader.KeepsUp("n3", 0) {
		t.Fatal("the server holding another key keeps up")
	}

	follower.close(t)
	waitGossip(t, "n2 stops keeping up once closed", func() (bool, string) { return !leader.KeepsUp("n2", 0), "it still does" })
}
