package cluster

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
)

// PlaceReplicas picks a bucket's replica set by rendezvous (highest random
// weight) hashing: every node gets a weight from hashing (bucketID, nodeID),
// and the rf heaviest nodes are the replicas, heaviest first (the primary).
//
// It returns min(rf, distinct nodes) node ids. The result depends only on
// the bucket id and the set of node ids: not on their order, and duplicates
// and empty ids count for nothing. It is nil when rf <= 0 or there are no
// nodes. Removing a node changes only the sets that held it (its place goes
// to the next heaviest node); adding one moves about 1/(n+1) of the
// primaries, all to the new node.
//
// The leader stores the result in Raft when a bucket is created, so a later
// change here cannot move existing buckets; it would still make a rebalance
// pick differently on different versions, so the weight function is pinned
// by TestPlaceReplicasGolden.
func PlaceReplicas(bucketID string, nodes []string, rf int) []string {
	if rf <= 0 || len(nodes) == 0 {
		return nil
	}
	type candidate struct {
		id     string
		weight uint64
	}
	cands := make([]candidate, 0, len(nodes))
	for _, n := range nodes {
		if n != "" {
			cands = append(cands, candidate{n, placementWeight(bucketID, n)})
		}
	}
	// Ties in weight (astronomically rare) go to the smaller id, so the
	// order stays total and duplicates end up next to each other.
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := cmp.Compare(b.weight, a.weight); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]string, 0, min(rf, len(cands)))
	for i, c := range cands {
		if len(out) == rf {
			break
		}
		if i > 0 && c.id == cands[i-1].id {
			continue
		}
		out = append(out, c.id)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// placementWeight is the first 8 bytes of SHA-256 over the length-prefixed
// bucket id and the node id. SHA-256 rather than a fast hash: the weights
// must be the same in every process and version (maphash is seeded per
// process), and a placement is computed once per bucket, so speed does not
// matter while an even spread does. The length prefix keeps ("ab", "c") and
// ("a", "bc") apart.
func placementWeight(bucketID, nodeID string) uint64 {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(bucketID)+len(nodeID))
	buf = binary.AppendUvarint(buf, uint64(len(bucketID)))
	buf = append(buf, bucketID...)
	buf = append(buf, nodeID...)
	sum := sha256.Sum256(buf)
	return binary.BigEndian.Uint64(sum[:8])
}
