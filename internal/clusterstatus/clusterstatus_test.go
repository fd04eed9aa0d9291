package clusterstatus

import (
	"errors"
	"log/slog"
	"reflect"
	"testing"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
)

type fakeRaft struct {
	status  cluster.Status
	servers []cluster.Server
	err     error
}

func (f fakeRaft) Status() cluster.Status                      { return f.status }
func (f fakeRaft) Servers() ([]cluster.Server, error)          { return f.servers, f.err }
func (fakeReplication) RepairStatus() replication.RepairStatus { return replication.RepairStatus{} }
func (fakeReplication) Counters() replication.Counters         { return replication.Counters{} }
func (fakeHints) Status() []replication.HintQueueStatus        { return []replication.HintQueueStatus{} }

type fakeReplication struct{}
type fakeHints struct{}

func threeServers() fakeRaft {
	return fakeRaft{
		status: cluster.Status{NodeID: "n1", State: "Leader", LeaderID: "n1"},
		servers: []cluster.Server{
			{ID: "n1", Address: "10.0.0.1:7000", Voter: true},
			{ID: "n2", Address: "10.0.0.2:7000", Voter: true},
			{ID: "n3", Address: "10.0.0.3:7000", Voter: false},
		},
	}
}

// TestDocumentMergesRaftAndGossip: each Raft server is shown with what
// gossip says of it (its HTTP address, alive or not), this node with its
// own state and readiness; the cluster-only parts are there.
func TestDocumentMergesRaftAndGossip(t *testing.T) {
	doc := Document(Sources{
		Self: "n1", HTTPAddr: "http://10.0.0.1:8080", Raft: threeServers(),
		Members: func() []cluster.Member {
			return []cluster.Member{
				{NodeMeta: cluster.NodeMeta{ID: "n2", HTTPAddr: "http://10.0.0.2:8080"}, State: cluster.Alive},
				{NodeMeta: cluster.NodeMeta{ID: "n3", HTTPAddr: "http://10.0.0.3:8080"}, State: cluster.Dead},
			}
		},
		Ready: func() bool { return false }, State: store.NewState(1 << 20),
		Hints: fakeHints{}, Replication: fakeReplication{}, Logger: slog.New(slog.DiscardHandler),
	})
	want := []NodeStatus{
		{NodeID: "n1", HTTPAddress: "http://10.0.0.1:8080", RaftAddress: "10.0.0.1:7000", State: "Leader", Voter: true, Healthy: false},
		{NodeID: "n2", HTTPAddress: "http://10.0.0.2:8080", RaftAddress: "10.0.0.2:7000", State: "Follower", Voter: true, Healthy: true},
		{NodeID: "n3", HTTPAddress: "http://10.0.0.3:8080", RaftAddress: "10.0.0.3:7000", State: "dead", Voter: false, Healthy: false},
	}
	if got := doc["nodes"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("nodes:\n got %+v\nwant %+v", got, want)
	}
	if doc["nodeId"] != "n1" || doc["leaderId"] != "n1" {
		t.Fatalf("nodeId %v, leaderId %v", doc["nodeId"], doc["leaderId"])
	}
	for _, k := range []string{"moves", "hintedHandoff", "repair", "replication", "placement", "raft"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("no %q in %v", k, doc)
		}
	}
}

// TestDocumentOfALoneNode: without gossip there are no moves, hints or
// repair to show, and a Raft configuration that cannot be read leaves the
// node list empty rather than failing the document.
func TestDocumentOfALoneNode(t *testing.T) {
	raft := threeServers()
	raft.servers, raft.err = nil, errors.New("shut down")
	doc := Document(Sources{
		Self: "n1", HTTPAddr: "http://127.0.0.1:8080", Raft: raft,
		Ready: func() bool { return true }, State: store.NewState(1 << 20), Logger: slog.New(slog.DiscardHandler),
	})
	if nodes := doc["nodes"].([]NodeStatus); len(nodes) != 0 {
		t.Fatalf("nodes %+v, want none", nodes)
	}
	for _, k := range []string{"moves", "hintedHandoff", "repair", "replication"} {
		if _, ok := doc[k]; ok {
			t.Errorf("a lone node's document has %q", k)
		}
	}
}
