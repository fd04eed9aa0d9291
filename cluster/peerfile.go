package cluster

import (
	"encoding/json"
	"log/slog"
	"os"
	"slices"
)

// PeerFile remembers the gossip addresses of the other live members in a
// file, so that a node restarting rejoins them even when its configured
// seeds are down.
type PeerFile struct {
	path string
	self string
	log  *slog.Logger
	last []string // the addresses last written; Remember's caller only
}

// NewPeerFile keeps the peers of node self in the file at path.
func NewPeerFile(path, self string, log *slog.Logger) *PeerFile {
	return &PeerFile{path: path, self: self, log: log}
}

// Remember writes the other live members' gossip addresses to the file
// when they change (ManagerConfig.OnMembers). Calls must not overlap.
func (f *PeerFile) Remember(members []Member) {
	var addrs []string
	for _, m := range members {
		if m.ID != f.self && m.State == Alive && m.GossipAddr != "" {
			addrs = append(addrs, m.GossipAddr)
		}
	}
	slices.Sort(addrs)
	if len(addrs) == 0 || slices.Equal(addrs, f.last) {
		return
	}
	b, err := json.Marshal(addrs)
	if err != nil {
		return
	}
	if err := os.WriteFile(f.path+".tmp", b, 0o600); err == nil {
		err = os.Rename(f.path+".tmp", f.path)
	}
	if err != nil {
		f.log.Warn("cannot remember gossip peers", "err", err)
		return
	}
	f.last = addrs
}

// Known returns the gossip addresses Remember last wrote, none if it never did.
func (f *PeerFile) Known() []string {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil
	}
	var addrs []string
	if json.Unmarshal(b, &addrs) != nil {
		return nil
	}
	return addrs
}
