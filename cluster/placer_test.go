package cluster

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/dakkio/dakkio/store"
)

// newTestPlacer returns a leader's Placer over servers and the state it
// places buckets in; applied collects what it commits.
func newTestPlacer(t *testing.T, servers []string, applied *[]any) (*Placer, *store.State) {
	t.Helper()
	st := store.NewState(1 << 20)
	if err := st.ApplyCreateOrg(store.CreateOrg{Org: store.Org{ID: "o1", Name: "acme"}}); err != nil {
		t.Fatal(err)
	}
	p := NewPlacer(PlacerConfig{
		State: st, Clustered: func() bool { return true }, IsLeader: func() bool { return true },
		Servers: func() []string { return servers }, ReplicationFactor: 2, Logger: slog.New(slog.DiscardHandler),
		Apply: func(_ context.Context, cmd any) (any, error) {
			*applied = append(*applied, cmd)
			return nil, nil
		},
	})
	return p, st
}

func TestPlacerPlacesNewBuckets(t *testing.T) {
	var applied []any
	p, _ := newTestPlacer(t, []string{"n1", "n2", "n3"}, &applied)
	got := p.Place(store.CreateBucket{Bucket: store.Bucket{ID: "b1"}}).(store.CreateBucket)
	if want := PlaceReplicas("b1", []string{"n1", "n2", "n3"}, 2); !slices.Equal(got.Replicas, want) {
		t.Fatalf("replicas %v, want %v", got.Replicas, want)
	}
	// Placed already (a forwarded command): left alone.
	got = p.Place(store.CreateBucket{Bucket: store.Bucket{ID: "b1"}, Replicas: []string{"x"}}).(store.CreateBucket)
	if !slices.Equal(got.Replicas, []string{"x"}) {
		t.Fatalf("replicas %v, want [x]", got.Replicas)
	}
	if cmd := p.Place(store.DeleteBucket{ID: "b1"}); cmd != any(store.DeleteBucket{ID: "b1"}) {
		t.Fatalf("other command changed: %#v", cmd)
	}
}

func TestPlacerReconcileReplacesRemovedNodes(t *testing.T) {
	var applied []any
	p, st := newTestPlacer(t, []string{"n1", "n3"}, &applied)
	// b1 was on n1 and n2; n2 is no longer a server.
	if err := st.ApplyCreateBucket(store.CreateBucket{Bucket: store.Bucket{ID: "b1", OrganizationID: "o1", Name: "b1"}, Replicas: []string{"n1", "n2"}}); err != nil {
		t.Fatal(err)
	}
	p.Reconcile()
	if len(applied) != 1 {
		t.Fatalf("applied %v, want one Rebalance", applied)
	}
	moves := applied[0].(store.Rebalance).Moves
	want := []store.Move{{Bucket: "b1", Replicas: []string{"n1"}, Pending: []string{"n3"}, Leaving: []string{}}}
	if len(moves) != 1 || moves[0].Bucket != "b1" || !slices.Equal(moves[0].Replicas, want[0].Replicas) || !slices.Equal(moves[0].Pending, want[0].Pending) {
		t.Fatalf("moves %+v, want %+v", moves, want)
	}
}

func TestPlacerRebalanceMovesOntoNewServers(t *testing.T) {
	var applied []any
	servers := []string{"n1", "n2", "n3", "n4", "n5"}
	p, st := newTestPlacer(t, servers, &applied)
	if err := st.ApplyCreateBucket(store.CreateBucket{Bucket: store.Bucket{ID: "b1", OrganizationID: "o1", Name: "b1"}, Replicas: []string{"old1", "old2"}}); err != nil {
		t.Fatal(err)
	}
	out, err := p.Rebalance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	moves := out.(map[string]any)["moves"].([]store.Move)
	want := PlaceReplicas("b1", servers, 2)
	if len(moves) != 1 || !slices.Equal(moves[0].Pending, want) || !slices.Equal(moves[0].Leaving, []string{"old1", "old2"}) {
		t.Fatalf("moves %+v, want pending %v leaving [old1 old2]", moves, want)
	}
	if len(applied) != 1 {
		t.Fatalf("applied %v, want the Rebalance", applied)
	}
}
