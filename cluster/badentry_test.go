package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/dakkio/dakkio/store"
)

// garbageEntries are committed entries no binary of ours wrote: an empty
// one, an unknown type byte, a known type with bytes that are not its JSON,
// and a known type whose JSON has the wrong shape.
var garbageEntries = [][]byte{
	{},
	{0xff, '{', '}'},
	{byte(typeOf[store.CreateKey]()), 0x00, 0x01, 0x02},
	append([]byte{byte(typeOf[store.CreateBucket]())}, `{"bucket":[1,2,3]}`...),
}

// appendToLog writes entries after the last one of the Raft log in dir, in
// the last entry's term, as a rogue leader (or a corrupted disk) would.
func appendToLog(t *testing.T, dir string, entries [][]byte) {
	t.Helper()
	logs, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	last, err := logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	var prev raft.Log
	if err := logs.GetLog(last, &prev); err != nil {
		t.Fatal(err)
	}
	for i, data := range entries {
		l := &raft.Log{Index: last + uint64(i) + 1, Term: prev.Term, Type: raft.LogCommand, Data: data}
		if err := logs.StoreLog(l); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGarbageEntriesDoNotStopANode: entries the FSM cannot apply, sitting
// in a node's log, are skipped as counted no-ops when the node restarts and
// replays them; the node leads again, and commands before and after them
// apply as usual. (Before, the first such entry panicked the node on every
// start.)
func TestGarbageEntriesDoNotStopANode(t *testing.T) {
	dir := t.TempDir()
	n := openReady(t, dir, "127.0.0.1:0")
	var c cmds
	boot := c.bootstrap()
	apply(t, n, boot)
	before := c.bucket(boot.Org.ID, "before")
	apply(t, n, before)
	addr := n.Addr()
	n.close(t)

	appendToLog(t, dir, garbageEntries)

	n = openReady(t, dir, addr)
	after := c.bucket(boot.Org.ID, "after")
	apply(t, n, after)
	if got := n.SkippedEntries(); got != uint64(len(garbageEntries)) {
		t.Fatalf("SkippedEntries = %d, want %d", got, len(garbageEntries))
	}
	for _, b := range []store.CreateBucket{before, after} {
		if _, err := n.state.Bucket(boot.Org.ID, b.Bucket.ID); err != nil {
			t.Errorf("bucket %q after the restart: %v", b.Bucket.Name, err)
		}
	}
	// Each is refused by decoding, not by the safety net catching a panic.
	m := &fsm{state: store.NewState(1 << 16)}
	for i, data := range garbageEntries {
		out := m.Apply(&raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: data}).(Applied)
		if !errors.Is(out.Err, ErrBadEntry) || errors.Is(out.Err, errApplyPanic) {
			t.Errorf("garbage entry %d: %v, want a decode error", i, out.Err)
		}
	}
}

// TestGarbageEntryThroughApply: an undecodable entry committed through the
// leader comes back to its proposer as ErrBadEntry, not a crash.
func TestGarbageEntryThroughApply(t *testing.T) {
	n := openReady(t, t.TempDir(), "127.0.0.1:0")
	f := n.raft.Apply([]byte{0xee, 1, 2, 3}, 0)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	out, ok := f.Response().(Applied)
	if !ok || !errors.Is(out.Err, ErrBadEntry) {
		t.Fatalf("response = %#v, want an Applied with ErrBadEntry", f.Response())
	}
	if _, err := n.Apply(context.Background(), (&cmds{}).bootstrap()); err != nil {
		t.Fatalf("a command after the garbage entry: %v", err)
	}
}
