package node_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

// refusedWithinLease calls try on every node, paced, until each refuses
// (try returns false): a node that still accepts after the lease has run
// out since acked fails the test. It returns once all refuse.
func refusedWithinLease(t *testing.T, what string, nodes []*testnode.Node, acked time.Time, lease time.Duration, try func(*testnode.Node) (accepted bool)) {
	t.Helper()
	pace := time.NewTicker(20 * time.Millisecond) // a call rate, not a wait for a condition
	defer pace.Stop()
	refused := map[string]bool{}
	for len(refused) < len(nodes) {
		for _, n := range nodes {
			if refused[n.Config.NodeID] {
				continue
			}
			start := time.Now()
			if !try(n) {
				refused[n.Config.NodeID] = true
				continue
			}
			if late := start.Sub(acked); late > lease {
				t.Fatalf("%s accepted %s %s after it was acknowledged (lease %s)", n.Config.NodeID, what, late.Round(time.Millisecond), lease)
			}
		}
		<-pace.C
	}
}

func defaultOrgID(t *testing.T, n *testnode.Node) string {
	t.Helper()
	ov, err := n.Admin.AnalyticsOverview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ov.Organization.ID
}

// TestClusterCredentialsWithdrawn: an admin key revoked and an operator
// token rotated through one node are refused by every node within the key
// lease; the other admin key and the new token work on every node, the new
// token at once (a node that has not applied the rotation yet catches up
// before it refuses a token).
func TestClusterCredentialsWithdrawn(t *testing.T) {
	const lease = time.Second
	nodes := testnode.StartCluster(t, 3, func(_ int, cfg *node.Config) { cfg.KeyLease = lease })
	ctx := context.Background()
	leader, followers := leaderOf(t, nodes)
	orgID := defaultOrgID(t, nodes[0])
	revoked, err := followers[0].Operator.CreateAdminKey(ctx, orgID, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	kept, err := followers[0].Operator.CreateAdminKey(ctx, orgID, "kept")
	if err != nil {
		t.Fatal(err)
	}
	works := func(n *testnode.Node, key string) error {
		_, err := n.Client(key).ListBuckets(ctx, client.Page{})
		return err
	}
	for _, n := range nodes {
		if err := works(n, revoked.Key); err != nil {
			t.Fatalf("%s before the revoke: %v", n.Config.NodeID, err)
		}
	}
	keys, err := nodes[2].Operator.ListAdminKeys(ctx, orgID, client.Page{})
	if err != nil || keys.Pagination.Total != 3 {
		t.Fatalf("admin keys through a node = %+v, %v; want the initial key and the two new ones", keys, err)
	}

	if _, err := followers[1].Operator.RevokeAdminKey(ctx, orgID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	refusedWithinLease(t, "the revoked admin key", nodes, time.Now(), lease, func(n *testnode.Node) bool {
		err := works(n, revoked.Key)
		if err != nil && !client.IsStatus(err, http.StatusUnauthorized) {
			t.Fatalf("%s: the revoked key: want 401, got %v", n.Config.NodeID, err)
		}
		return err == nil
	})
	for _, n := range nodes {
		if err := works(n, kept.Key); err != nil {
			t.Errorf("%s: the other admin key after the revoke: %v", n.Config.NodeID, err)
		}
	}

	oldToken := nodes[0].OperatorToken
	// Through the leader, which answers before the followers apply: they
	// are asked first, while they most likely lag.
	newToken, err := leader.Operator.RotateOperatorToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	for _, n := range append(followers, leader) {
		if _, err := n.Operator.WithOperatorToken(newToken).ListOrgs(ctx, client.Page{}); err != nil {
			t.Errorf("%s: the new operator token right after the rotation: %v", n.Config.NodeID, err)
		}
	}
	refusedWithinLease(t, "the old operator token", nodes, acked, lease, func(n *testnode.Node) bool {
		_, err := n.Operator.WithOperatorToken(oldToken).ListOrgs(ctx, client.Page{})
		if err != nil && !client.IsStatus(err, http.StatusUnauthorized) {
			t.Fatalf("%s: the old operator token: want 401, got %v", n.Config.NodeID, err)
		}
		return err == nil
	})
}

// TestClusterCredentialsLeaseOnALaggingNode: a follower that has not
// applied an admin key's revoke and an operator token's rotation (Raft may
// take seconds to resend what a follower missed) refuses the old
// credentials once the lease has run out since they were acknowledged,
// with 503, and with 401 once it has caught up. Before the operator token
// was subject to the lease, such a node accepted the old token for as long
// as it lagged.
func TestClusterCredentialsLeaseOnALaggingNode(t *testing.T) {
	const lease = time.Second
	nodes := testnode.StartCluster(t, 3, func(_ int, cfg *node.Config) { cfg.KeyLease = lease })
	ctx := context.Background()
	leader, followers := leaderOf(t, nodes)
	lagging := followers[0]
	orgID := defaultOrgID(t, leader)
	key, err := leader.Operator.CreateAdminKey(ctx, orgID, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	useKey := func() error {
		_, err := lagging.Client(key.Key).ListBuckets(ctx, client.Page{})
		return err
	}
	// The old token is tried on a change, not a read: reads wait for the
	// node to catch up anyway, but a change is committed by the leader,
	// so a lagging node that took the old token would let it act.
	oldOperator := lagging.Operator
	tries := 0
	useToken := func() error {
		tries++
		_, err := oldOperator.CreateOrg(ctx, client.CreateOrgRequest{Name: fmt.Sprintf("by-old-token-%d", tries)})
		return err
	}
	for _, try := range []func() error{useKey, useToken} {
		if err := try(); err != nil {
			t.Fatalf("before the hold: %v", err)
		}
	}

	var once sync.Once
	hold := lagging.HoldApply()
	release := func() { once.Do(hold) }
	t.Cleanup(release) // before the cluster stops
	if _, err := leader.Operator.RevokeAdminKey(ctx, orgID, key.ID); err != nil {
		t.Fatal(err)
	}
	newToken, err := leader.Operator.RotateOperatorToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	refused := 0
	pace := time.NewTicker(50 * time.Millisecond) // a call rate, not a wait for a condition
	defer pace.Stop()
	for ; time.Since(acked) < 3*lease; <-pace.C {
		for what, try := range map[string]func() error{"the revoked admin key": useKey, "the old operator token": useToken} {
			start := time.Now()
			if start.Sub(acked) <= lease {
				continue // within the lease the lagging node may still accept it
			}
			err := try()
			if err == nil {
				t.Fatalf("the lagging node accepted %s %s after it was withdrawn (lease %s)", what, start.Sub(acked).Round(time.Millisecond), lease)
			}
			if !client.IsStatus(err, http.StatusServiceUnavailable) {
				t.Fatalf("the lagging node, %s: want 503, got %v", what, err)
			}
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no call reached the lagging node after the lease")
	}
	release()
	eventually(t, "the caught-up node refuses the old credentials with 401", func() error {
		for what, try := range map[string]func() error{"the revoked admin key": useKey, "the old operator token": useToken} {
			if err := try(); !client.IsStatus(err, http.StatusUnauthorized) {
				return fmt.Errorf("%s: want 401, got %v", what, err)
			}
		}
		return nil
	})
	orgs, err := lagging.Operator.WithOperatorToken(newToken).ListOrgs(ctx, client.Page{})
	if err != nil {
		t.Fatalf("the new token on the caught-up node: %v", err)
	}
	for _, o := range orgs.Data {
		if o.Name != "default" && o.Name != "by-old-token-1" {
			t.Errorf("the old operator token created organization %q through the lagging node after it was rotated", o.Name)
		}
	}
}
