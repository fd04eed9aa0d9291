package cluster

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// placementBuckets returns n bucket ids shaped like the real ones.
func placementBuckets(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("65a4f0c2a1b2c3d4e5%06x", i)
	}
	return out
}

func placementNodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("node-%d", i+1)
	}
	return out
}

// TestPlaceReplicasGolden pins the weight function: replica sets computed by
// one version must be computed alike by the next.
func TestPlaceReplicasGolden(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	tests := []struct {
		bucket string
		want   []string
	}{
		{"65a4f0c2a1b2c3d4e5000001", []string{"n4", "n2", "n3"}},
		{"65a4f0c2a1b2c3d4e5000002", []string{"n4", "n1", "n5"}},
		{"weather", []string{"n2", "n3", "n1"}},
		{"", []string{"n4", "n3", "n2"}},
	}
	for _, tt := range tests {
		if got := PlaceReplicas(tt.bucket, nodes, 3); !slices.Equal(got, tt.want) {
			t.Errorf("PlaceReplicas(%q) = %q, want %q", tt.bucket, got, tt.want)
		}
	}
}

func TestPlaceReplicas(t *testing.T) {
	tests := []struct {
		name  string
		nodes []string
		rf    int
		want  int // length of the result
	}{
		{"rf below nodes", placementNodes(5), 3, 3},
		{"rf equals nodes", placementNodes(3), 3, 3},
		{"rf above nodes", placementNodes(2), 3, 2},
		{"one node", placementNodes(1), 3, 1},
		{"rf one", placementNodes(5), 1, 1},
		{"duplicates ignored", []string{"a", "b", "a", "b", "a"}, 3, 2},
		{"empty ids ignored", []string{"", "a", ""}, 3, 1},
		{"only empty ids", []string{"", ""}, 3, 0},
		{"no nodes", nil, 3, 0},
		{"rf zero", placementNodes(5), 0, 0},
		{"rf negative", placementNodes(5), -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, b := range placementBuckets(200) {
				got := PlaceReplicas(b, tt.nodes, tt.rf)
				if len(got) != tt.want {
					t.Fatalf("PlaceReplicas(%q, %q, %d) = %q, want %d nodes", b, tt.nodes, tt.rf, got, tt.want)
				}
				if tt.want == 0 && got != nil {
					t.Fatalf("got %#v, want nil", got)
				}
				seen := map[string]bool{}
				for _, n := range got {
					if seen[n] || n == "" || !slices.Contains(tt.nodes, n) {
						t.Fatalf("PlaceReplicas(%q) = %q: repeated, empty or unknown node %q", b, got, n)
					}
					seen[n] = true
				}
			}
		})
	}
}

// TestPlaceReplicasOrderIndependent: the input order and duplicates do not
// change the result, and a smaller rf gives a prefix of a larger one.
func TestPlaceReplicasOrderIndependent(t *testing.T) {
	nodes := placementNodes(7)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, b := range placementBuckets(500) {
		want := PlaceReplicas(b, nodes, 3)
		shuffled := slices.Clone(nodes)
		shuffled = append(shuffled, nodes[rng.IntN(len(nodes))], nodes[rng.IntN(len(nodes))])
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := PlaceReplicas(b, shuffled, 3); !slices.Equal(got, want) {
			t.Fatalf("bucket %q: nodes %q give %q, nodes %q give %q", b, nodes, want, shuffled, got)
		}
		if again := PlaceReplicas(b, nodes, 3); !slices.Equal(again, want) {
			t.Fatalf("bucket %q: not deterministic: %q then %q", b, want, again)
		}
		all := PlaceReplicas(b, nodes, len(nodes))
		if !slices.Equal(all[:3], want) {
			t.Fatalf("bucket %q: rf=3 gives %q, not a prefix of rf=%d %q", b, want, len(nodes), all)
		}
	}
}

// TestPlaceReplicasSpread: over many buckets every node is primary for about
// 1/n of them and a replica of about rf/n.
func TestPlaceReplicasSpread(t *testing.T) {
	const buckets, n, rf = 10_000, 5, 3
	nodes := placementNodes(n)
	primaries := map[string]int{}
	replicas := map[string]int{}
	for _, b := range placementBuckets(buckets) {
		got := PlaceReplicas(b, nodes, rf)
		primaries[got[0]]++
		for _, id := range got {
			replicas[id]++
		}
	}
	within := func(got int, want float64) bool { return float64(got) >= 0.9*want && float64(got) <= 1.1*want }
	for _, id := range nodes {
		if want := float64(buckets) / n; !within(primaries[id], want) {
			t.Errorf("%s is primary of %d buckets, want %.0f ±10%%", id, primaries[id], want)
		}
		if want := float64(buckets) * rf / n; !within(replicas[id], want) {
			t.Errorf("%s is a replica of %d buckets, want %.0f ±10%%", id, replicas[id], want)
		}
	}
	t.Logf("primaries %v, replicas %v", primaries, replicas)
}

// TestPlaceReplicasRemoveNode: removing a node changes only the sets that
// held it; in those, the other replicas keep their order and the next node
// takes the last place.
func TestPlaceReplicasRemoveNode(t *testing.T) {
	const rf = 3
	nodes := placementNodes(5)
	for _, removed := range nodes {
		t.Run(removed, func(t *testing.T) {
			rest := slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == removed })
			changed := 0
			for _, b := range placementBuckets(10_000) {
				before := PlaceReplicas(b, nodes, rf)
				after := PlaceReplicas(b, rest, rf)
				i := slices.Index(before, removed)
				if i < 0 {
					if !slices.Equal(before, after) {
						t.Fatalf("bucket %q did not hold %s but moved: %q -> %q", b, removed, before, after)
					}
					continue
				}
				changed++
				kept := slices.Delete(slices.Clone(before), i, i+1)
				if !slices.Equal(after[:rf-1], kept) || slices.Contains(before, after[rf-1]) {
					t.Fatalf("bucket %q: removing %s turned %q into %q, want %q plus one new node", b, removed, before, after, kept)
				}
			}
			// Sanity: the node did hold about rf/n of the buckets.
			if changed < 5_000 || changed > 7_000 {
				t.Fatalf("%d buckets held %s, want about 6000", changed, removed)
			}
		})
	}
}

// TestPlaceReplicasAddNode: adding a node to n moves about 1/(n+1) of the
// primaries, all of them to the new node, and changes each set by at most
// the new node coming in and the last replica going out.
func TestPlaceReplicasAddNode(t *testing.T) {
	const buckets, rf = 10_000, 3
	nodes := placementNodes(5)
	added := "node-new"
	grown := append(slices.Clone(nodes), added)
	moved := 0
	for _, b := range placementBuckets(buckets) {
		before := PlaceReplicas(b, nodes, rf)
		after := PlaceReplicas(b, grown, rf)
		if after[0] != before[0] {
			moved++
			if after[0] != added {
				t.Fatalf("bucket %q: primary moved from %s to %s, not to the new node", b, before[0], after[0])
			}
		}
		i := slices.Index(after, added)
		if i < 0 {
			if !slices.Equal(before, after) {
				t.Fatalf("bucket %q: new node not placed but set changed: %q -> %q", b, before, after)
			}
			continue
		}
		want := slices.Insert(slices.Clone(before[:rf-1]), i, added)
		if !slices.Equal(after, want) {
			t.Fatalf("bucket %q: adding %s turned %q into %q, want %q", b, added, before, after, want)
		}
	}
	want := float64(buckets) / float64(len(grown))
	if float64(moved) < 0.9*want || float64(moved) > 1.1*want {
		t.Fatalf("%d primaries moved, want about %.0f", moved, want)
	}
}

func BenchmarkPlaceReplicas(b *testing.B) {
	nodes := placementNodes(9)
	for b.Loop() {
		PlaceReplicas("65a4f0c2a1b2c3d4e5000001", nodes, 3)
	}
}
