package main

import (
	"context"

	"github.com/dakkio/dakkio/internal/netlab"
	"github.com/dakkio/dakkio/jepsen/netslow"
)

// The suite's network (internal/netlab): a bridge in the root namespace and
// one namespace per node, joined to it by a veth pair. The harness (root
// namespace) reaches every node through the bridge. Its names are fixed, so
// that a run removes what a crashed one left.
const maxNodes = 9

var lab = netlab.Named("jepsen", "10.77.0", maxNodes)

func nodeIP(i int) string { return lab.HostIP(i) }

// cleanupNetwork removes what a previous run (maybe crashed) left: the
// processes inside the suite's namespaces, the namespaces, the bridge and
// the FORWARD rule.
func cleanupNetwork(_ context.Context, logf func(string, ...any)) {
	if err := lab.Close(); err != nil {
		logf("cleanup: %v", err)
	}
	cleanupDisks(logf)
	if err := netslow.RemoveLeftovers(context.Background(), lab.Bridge()); err != nil {
		logf("cleanup: %v", err)
	}
}

// setupNetwork creates the bridge and the namespaces of n nodes (members
// and the spares the membership nemesis adds fresh nodes in).
func setupNetwork(ctx context.Context, n int) error {
	lab = netlab.Named("jepsen", "10.77.0", n)
	return lab.Create(ctx)
}

// setDrops makes node i (1-based) drop every packet from and to the given
// peers' addresses, replacing its earlier rules; no peers heals it.
func setDrops(ctx context.Context, i int, peers []int) error {
	return lab.Cut(ctx, i, peers...)
}

// checkTools reports what the suite needs and lacks.
func checkTools() error { return netlab.Available() }
