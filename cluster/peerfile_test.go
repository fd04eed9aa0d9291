package cluster

import (
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
)

func TestPeerFileRemembersOtherLiveMembers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.json")
	f := NewPeerFile(path, "a", slog.Default())
	if got := f.Known(); got != nil {
		t.Fatalf("Known before any Remember = %v, want none", got)
	}
	f.Remember([]Member{
		{NodeMeta: NodeMeta{ID: "a"}, GossipAddr: "10.0.0.1:7946", State: Alive},
		{NodeMeta: NodeMeta{ID: "c"}, GossipAddr: "10.0.0.3:7946", State: Alive},
		{NodeMeta: NodeMeta{ID: "b"}, GossipAddr: "10.0.0.2:7946", State: Alive},
		{NodeMeta: NodeMeta{ID: "d"}, GossipAddr: "10.0.0.4:7946", State: Dead},
	})
	want := []string{"10.0.0.2:7946", "10.0.0.3:7946"}
	if got := NewPeerFile(path, "a", slog.Default()).Known(); !slices.Equal(got, want) {
		t.Fatalf("Known = %v, want %v", got, want)
	}
	f.Remember(nil) // no live peer: keep the last ones to rejoin
	if got := f.Known(); !slices.Equal(got, want) {
		t.Fatalf("Known after an empty pass = %v, want %v", got, want)
	}
}
