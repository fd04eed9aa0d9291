package cluster

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/dakkio/dakkio/store"
)

// FuzzFSMApply feeds arbitrary bytes to the FSM as committed log entries,
// over a state that already holds one of everything. Whatever the bytes,
// Apply must return (never panic), and an entry it cannot use must be a
// counted no-op that no apply function panicked over: a panic caught by the
// safety net is a bug in the apply function, so the target fails on it.
func FuzzFSMApply(f *testing.F) {
	for _, cmd := range sampleCommands() {
		entry, err := encodeCommand(cmd)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(entry)
	}
	for _, g := range garbageEntries {
		f.Add(g)
	}
	f.Fuzz(func(t *testing.T, entry []byte) {
		m := &fsm{state: store.NewState(1 << 16)}
		cmds := sampleCommands()
		for _, i := range slices.Sorted(maps.Keys(cmds)) { // in type order, the same state every run
			data, err := encodeCommand(cmds[i])
			if err != nil {
				t.Fatal(err)
			}
			m.Apply(&raft.Log{Index: uint64(i), Type: raft.LogCommand, Data: data})
		}
		for i := range 2 { // a replayed entry must not panic either
			v := m.Apply(&raft.Log{Index: 1000 + uint64(i), Type: raft.LogCommand, Data: entry})
			out, ok := v.(Applied)
			if !ok {
				t.Fatalf("Apply returned %T, want Applied", v)
			}
			if errors.Is(out.Err, errApplyPanic) {
				t.Fatalf("entry %q: %v", entry, out.Err)
			}
		}
		// What the entry left must still snapshot and restore, or the
		// node could not start from its next snapshot.
		var buf bytes.Buffer
		if err := store.WriteSnapshot(&buf, m.state.Snapshot()); err != nil {
			t.Fatalf("state after entry %q cannot be snapshotted: %v", entry, err)
		}
		if err := store.NewState(1 << 16).Restore(&buf); err != nil {
			t.Fatalf("state after entry %q does not restore: %v", entry, err)
		}
	})
}
