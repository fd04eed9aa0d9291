package store

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

func TestApplyRestoreState(t *testing.T) {
	old := newWorld(t)
	_, oldAdmin := old.bootstrap("default", "old-op")
	o, _ := old.org("acme")
	b := old.bucket(o.ID, "weather", BucketActive)
	k := old.key(o.ID, b.ID, KeyRead)
	old.source(b, "station")
	mustOK(t, old.s.ApplyRebalance(Rebalance{Moves: []Move{{Bucket: b.ID, Replicas: []string{"old1", "old2"}, Pending: []string{"old3"}}}}))
	mustOK(t, old.s.ApplySetUsage(SetUsage{NodeID: "old1", Month: "2024-01", Counts: map[string]int64{o.ID: 5}}))
	var snap bytes.Buffer
	mustOK(t, WriteSnapshot(&snap, old.s.Snapshot()))

	fresh := newWorld(t)
	fresh.seq = 1000 // ids of its own
	_, newAdmin := fresh.bootstrap("default", "new-op")
	mustOK(t, fresh.s.ApplyRestoreState(RestoreState{Snapshot: snap.Bytes(), Placement: map[string][]string{b.ID: {"n1", "n2", "n3"}, "gone": {"n1"}}}))
	s := fresh.s

	for _, key := range []APIKey{oldAdmin, k} {
		if _, ok := s.Authenticate(key.Hash); !ok {
			t.Errorf("key %s of the backup does not authenticate", key.ID)
		}
	}
	if _, ok := s.Authenticate(newAdmin.Hash); ok {
		t.Error("the fresh cluster's initial admin key still authenticates")
	}
	if !s.CheckOperatorToken("new-op") || s.CheckOperatorToken("old-op") {
		t.Error("the operator token is not the fresh cluster's")
	}
	if got := s.BucketPlacement(b.ID); !slices.Equal(got.Replicas, []string{"n1", "n2", "n3"}) || len(got.Pending) > 0 {
		t.Errorf("placement %+v, want the new nodes and nothing pending", got)
	}
	if _, ok := s.Placement()["gone"]; ok {
		t.Error("placement of a bucket not in the backup")
	}
	if own, others := s.Usage("2024-01", o.ID, "old1"); own != 0 || others != 5 {
		t.Errorf("usage own %d others %d; want the old node's count kept apart as others'", own, others)
	}
	if s.Fresh() {
		t.Error("a restored state is fresh")
	}
	err := s.ApplyRestoreState(RestoreState{Snapshot: snap.Bytes()})
	wantKind(t, err, ErrConflict)
}

func TestApplyRestoreStateRefusesBadSnapshots(t *testing.T) {
	w := newWorld(t)
	w.bootstrap("default", "op")
	before := encoded(t, w.s)
	org := Org{ID: "o1", Name: "a"}
	for name, snap := range map[string]any{
		"no org":         map[string]any{},
		"duplicate org":  map[string]any{"orgs": []Org{org, org}},
		"orphan bucket":  map[string]any{"orgs": []Org{org}, "buckets": []Bucket{{ID: "b1", OrganizationID: "o2", Name: "x"}}},
		"orphan key":     map[string]any{"orgs": []Org{org}, "apiKeys": []APIKey{{ID: "k1", Type: KeyRead, OrganizationID: "o1", BucketID: "b9", Hash: "h"}}},
		"duplicate hash": map[string]any{"orgs": []Org{org}, "apiKeys": []APIKey{{ID: "k1", Type: KeyAdmin, OrganizationID: "o1", Hash: "h"}, {ID: "k2", Type: KeyAdmin, OrganizationID: "o1", Hash: "h"}}},
	} {
		b, _ := json.Marshal(snap)
		err := w.s.ApplyRestoreState(RestoreState{Snapshot: b})
		if err == nil {
			t.Errorf("%s: restored", name)
		}
		wantKind(t, err, ErrInvalid)
	}
	if encoded(t, w.s) != before {
		t.Error("a refused restore changed the state")
	}
}
