package cluster

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// maxTrailingLogs is how far a non-voter's log may trail the leader's and
// still count as keeping up (Consul's autopilot allows 250).
const maxTrailingLogs = 256

// peerContact is what the leader's AppendEntries calls have learned of one
// server.
type peerContact struct {
	since   time.Time // first answer of the current unbroken run
	last    time.Time // latest answer
	lastLog uint64    // the server's last log index, from that answer
}

// contactTransport is Raft's transport, remembering for each server when it
// answered AppendEntries and how far its log reaches. The leader's
// heartbeats go through it ten times a heartbeat timeout, to non-voters
// too, so the manager can promote a non-voter only once it has answered
// without a break (autopilot's server stabilization): a member that gossip
// calls alive but that Raft cannot reach never becomes a voter.
type contactTransport struct {
	*raft.NetworkTransport
	gap time.Duration // a longer silence starts a new run

	mu    sync.Mutex
	peers map[raft.ServerID]peerContact
}

func newContactTransport(t *raft.NetworkTransport, gap time.Duration) *contactTransport {
	return &contactTransport{NetworkTransport: t, gap: gap, peers: map[raft.ServerID]peerContact{}}
}

// AppendEntries sends the call and notes the answer, or forgets the run on
// a failure.
func (t *contactTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		delete(t.peers, id)
		return err
	}
	c := t.peers[id]
	if c.since.IsZero() || now.Sub(c.last) > t.gap {
		c.since = now
	}
	c.last, c.lastLog = now, resp.LastLog
	t.peers[id] = c
	return nil
}

// keepsUp reports whether id has answered without a break for at least
// stable, last within gap of now, with a log at most maxTrailingLogs behind
// lastIndex.
func (t *contactTransport) keepsUp(id string, stable time.Duration, lastIndex uint64, now time.Time) bool {
	t.mu.Lock()
	c, ok := t.peers[raft.ServerID(id)]
	t.mu.Unlock()
	return ok && now.Sub(c.last) <= t.gap && now.Sub(c.since) >= stable && c.lastLog+maxTrailingLogs >= lastIndex
}
