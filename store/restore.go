package store

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// RestoreState replaces the metadata of a fresh cluster with a backup's:
// Snapshot is what WriteSnapshot wrote on the cluster backed up. The
// cluster keeps its own operator token, and Placement, chosen by the
// leader among the new cluster's servers, replaces the backup's placement
// (empty: every node keeps its buckets' points itself).
type RestoreState struct {
	Snapshot  json.RawMessage     `json:"snapshot"`
	Placement map[string][]string `json:"placement,omitempty"`
}

// RestoredUsagePrefix marks, in the usage counts, the nodes of the cluster
// a backup was taken on: their counts still add to each organization's
// month, and no node of the new cluster overwrites them.
const RestoredUsagePrefix = "restored:"

// Fresh reports whether the state may take a RestoreState: no bucket and
// no organization beyond the initial one.
func (s *State) Fresh() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.data.fresh()
}

func (t *tables) fresh() bool { return len(t.buckets) == 0 && len(t.orgs) <= 1 }

// BackupBuckets returns the ids of the buckets a snapshot holds, and each
// one's sources, in the snapshot's order.
func BackupBuckets(snapshotJSON []byte) (buckets []Bucket, sources map[string][]string, err error) {
	var snap snapshot
	if err := json.Unmarshal(snapshotJSON, &snap); err != nil {
		return nil, nil, errorf(ErrInvalid, "Backup metadata cannot be read: %v", err)
	}
	sources = map[string][]string{}
	for _, src := range snap.Sources {
		sources[src.BucketID] = append(sources[src.BucketID], src.ID)
	}
	return snap.Buckets, sources, nil
}

// ApplyRestoreState applies a RestoreState command. A cluster that is not
// fresh refuses it with ErrConflict, and a snapshot that does not hold
// together with ErrInvalid; either way nothing changes.
func (s *State) ApplyRestoreState(c RestoreState) error {
	var snap snapshot
	if err := json.Unmarshal(c.Snapshot, &snap); err != nil {
		return errorf(ErrInvalid, "Backup metadata cannot be read: %v", err)
	}
	if len(snap.Orgs) == 0 {
		return errorf(ErrInvalid, "Backup metadata holds no organization")
	}
	if err := snap.check(); err != nil {
		return err
	}
	// Only the FSM changes the state, and it runs this: nothing can
	// change it between this check and the swap below.
	s.mu.RLock()
	fresh, token := s.data.fresh(), s.data.OperatorTokenHash
	s.mu.RUnlock()
	if !fresh {
		return errorf(ErrConflict, "Restore needs a fresh cluster: this one already has buckets or organizations of its own")
	}
	snap.Initialized = true
	if token != "" {
		snap.OperatorTokenHash = token
	}
	snap.Placement = map[string][]string{}
	for _, b := range snap.Buckets {
		if reps := c.Placement[b.ID]; len(reps) > 0 {
			snap.Placement[b.ID] = slices.Clone(reps)
		}
	}
	snap.Pending, snap.Leaving = nil, nil
	for _, byOrg := range snap.Usage {
		for org, byNode := range byOrg {
			renamed := make(map[string]int64, len(byNode))
			for node, n := range byNode {
				if !strings.HasPrefix(node, RestoredUsagePrefix) {
					node = RestoredUsagePrefix + node
				}
				renamed[node] += n
			}
			byOrg[org] = renamed
		}
	}
	t, err := snap.tables()
	if err != nil {
		return errorf(ErrInvalid, "Backup metadata cannot be restored: %v", err)
	}
	s.swap(t)
	return nil
}

// check refuses a snapshot whose records do not refer to each other as the
// state requires: Restore from a Raft snapshot trusts them, a backup file
// from elsewhere must not be.
func (snap *snapshot) check() error {
	orgs, buckets, sources, rules := map[string]bool{}, map[string]string{}, map[string]string{}, map[string]bool{}
	names := map[string]bool{}
	for _, o := range snap.Orgs {
		if o.ID == "" || orgs[o.ID] || names[o.Name] {
			return errorf(ErrInvalid, "Backup metadata has organization %q twice or without an id", o.Name)
		}
		orgs[o.ID], names[o.Name] = true, true
	}
	for _, b := range snap.Buckets {
		if b.ID == "" || !orgs[b.OrganizationID] || buckets[b.ID] != "" || names[b.OrganizationID+"\x00"+b.Name] {
			return errorf(ErrInvalid, "Backup metadata has bucket %s twice or of an unknown organization", b.ID)
		}
		buckets[b.ID], names[b.OrganizationID+"\x00"+b.Name] = b.OrganizationID, true
	}
	hashes := map[string]bool{}
	keys := map[string]bool{}
	for _, k := range snap.APIKeys {
		bad := k.ID == "" || keys[k.ID] || hashes[k.Hash] || !orgs[k.OrganizationID]
		if k.Type != KeyAdmin && buckets[k.BucketID] != k.OrganizationID {
			bad = true
		}
		if bad {
			return errorf(ErrInvalid, "Backup metadata has API key %s twice or of an unknown bucket", k.ID)
		}
		keys[k.ID], hashes[k.Hash] = true, true
	}
	for _, src := range snap.Sources {
		if src.ID == "" || sources[src.ID] != "" || buckets[src.BucketID] != src.OrganizationID || names[src.BucketID+"\x00"+src.Name] {
			return errorf(ErrInvalid, "Backup metadata has data source %s twice or of an unknown bucket", src.ID)
		}
		sources[src.ID], names[src.BucketID+"\x00"+src.Name] = src.BucketID, true
	}
	for _, a := range snap.Alerts {
		if a.ID == "" || rules[a.ID] || buckets[a.BucketID] == "" || sources[a.DataSourceID] != a.BucketID {
			return errorf(ErrInvalid, "Backup metadata has alert rule %s twice or of an unknown source", a.ID)
		}
		rules[a.ID] = true
	}
	for _, e := range snap.Events {
		if !rules[e.AlertID] {
			return errorf(ErrInvalid, "Backup metadata has alert event %s of an unknown rule", e.ID)
		}
	}
	for id := range maps.Keys(snap.KeyLastUsed) {
		if !keys[id] {
			delete(snap.KeyLastUsed, id)
		}
	}
	return nil
}
