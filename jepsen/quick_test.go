package main

import (
	"slices"
	"testing"
)

// TestQuickMatrixCoversThePoolOverConsecutiveSeeds: every cell of the pool
// is a known workload × nemesis, each seed's quick matrix is the core plus
// quickRotating cells, and len(pool)/quickRotating consecutive seeds (from
// any start) run every cell of the pool.
func TestQuickMatrixCoversThePoolOverConsecutiveSeeds(t *testing.T) {
	for _, p := range append(slices.Clone(quickPool), quickCore...) {
		if newWorkload(p[0]) == nil || !slices.Contains(nemesisNames, p[1]) {
			t.Errorf("quick cell %v names an unknown workload or nemesis", p)
		}
	}
	for _, start := range []uint64{0, 2026339, 2026340} {
		seen := map[[2]string]bool{}
		days := (len(quickPool) + quickRotating - 1) / quickRotating
		for s := start; s < start+uint64(days); s++ {
			cells := quickMatrix(s)
			if len(cells) != len(quickCore)+quickRotating {
				t.Fatalf("seed %d: %d cells", s, len(cells))
			}
			for _, c := range cells[len(quickCore):] {
				seen[c] = true
			}
		}
		for _, p := range quickPool {
			if !seen[p] {
				t.Errorf("seeds %d..%d never run %v", start, start+uint64(days)-1, p)
			}
		}
	}
}

// TestMixedDrawsEveryFault: mixed chooses among every fault, the newer
// ones included; mix keeps the first round's.
func TestMixedDrawsEveryFault(t *testing.T) {
	for _, f := range nemesisNames {
		if f == "none" || f == "mix" || f == "mixed" {
			continue
		}
		if !slices.Contains(mixedFaults, f) {
			t.Errorf("mixed never injects %s", f)
		}
	}
	for _, f := range []string{"net-slow", "clock", "membership", "disk", "disk-slow", "pause-many"} {
		if slices.Contains(mixFaults, f) {
			t.Errorf("mix injects %s; it keeps the first round's faults", f)
		}
	}
}
