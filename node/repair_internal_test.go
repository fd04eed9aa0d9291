package node

import (
	"log/slog"
	"testing"

	"github.com/dakkio/dakkio/store"
)

// TestInSync: a replica is in sync only for buckets it knows (a node still
// replaying its log once answered a read for a bucket it had not applied
// yet, with no points at all: jepsen set × kill, seed 449641), and after a
// restart or a lost contact only once a repair pass has compared it with
// enough co-replicas.
func TestInSync(t *testing.T) {
	st := store.NewState(1 << 20)
	n := &Node{cfg: Config{NodeID: "a"}, state: st, log: slog.New(slog.DiscardHandler)}
	rp := newRepairer(n)
	if rp.inSync("6b0990ecf6fffd09dc560b84") {
		t.Fatal("in sync for a bucket this node does not know")
	}
	if err := st.ApplyCreateOrg(store.CreateOrg{Org: store.Org{ID: "o"}, AdminKey: store.APIKey{ID: "k", Hash: "h", OrganizationID: "o", Type: store.KeyAdmin}}); err != nil {
		t.Fatal(err)
	}
	if err := st.ApplyCreateBucket(store.CreateBucket{Bucket: store.Bucket{ID: "b", Name: "b", OrganizationID: "o"}, Replicas: []string{"a", "b", "c"}}); err != nil {
		t.Fatal(err)
	}
	if rp.inSync("b") {
		t.Fatal("in sync right after a start, before any repair")
	}
	rp.mu.Lock()
	start := rp.epoch
	rp.synced["b"] = map[string]uint64{"c": start}
	rp.mu.Unlock()
	if !rp.inSync("b") {
		t.Fatal("not in sync after comparing with one of two co-replicas (3 replicas: quorum writes are on one of them)")
	}
	rp.mayHaveMissedWrites("test")
	if rp.inSync("b") {
		t.Fatal("in sync after losing contact, with only an older comparison")
	}

	// A bucket created while the node is up is in sync at once, until the
	// node may lose something.
	rp.noteNewBuckets() // scan after the loss: nothing new
	if err := st.ApplyCreateBucket(store.CreateBucket{Bucket: store.Bucket{ID: "c", Name: "c", OrganizationID: "o"}, Replicas: []string{"a", "b", "c"}}); err != nil {
		t.Fatal(err)
	}
	rp.noteNewBuckets()
	if !rp.inSync("c") {
		t.Fatal("a bucket born while the node was up is not in sync")
	}
	if rp.inSync("b") {
		t.Fatal("a bucket that existed before the loss became in sync by a scan")
	}
	rp.mayHaveMissedWrites("test")
	if rp.inSync("c") {
		t.Fatal("in sync after a loss")
	}
}
