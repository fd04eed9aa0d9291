package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
	"github.com/dakkio/dakkio/store"
)

// metric reads one unlabelled sample from a node's /metrics.
func metric(t *testing.T, s *server, name string) float64 {
	t.Helper()
	return testnode.MetricAt(t, s.hc, s.url, name)
}

// TestRaftPortRefusesStrangers plays the attack issue 12 measured: a real
// hashicorp/raft client, holding no key, sends a node started with nothing
// but its ports an AppendEntries that would plant an admin key in its log.
// The node must refuse the connection, the key must not work, and the node
// must keep serving. (Before, the default node ran Raft on plain TCP: the
// call succeeded and the planted key worked.)
func TestRaftPortRefusesStrangers(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "lone node", dir, nil, nil)
	ctx := testCtx(t)
	adminKey := strings.TrimSpace(string(credFile(t, dir, node.InitialAdminKeyFile)))
	token := strings.TrimSpace(string(credFile(t, dir, node.OperatorTokenFile)))
	credFile(t, dir, node.RaftKeyFile) // made at first start, mode 0600
	orgs := must[*client.List[client.Org]](t, "list orgs")(s.operator(token).ListOrgs(ctx, client.Page{Limit: 10}))
	if len(orgs.Data) != 1 {
		t.Fatalf("orgs = %+v", orgs.Data)
	}
	org := orgs.Data[0]

	term := uint64(metric(t, s, "dakkio_raft_term"))
	last := uint64(metric(t, s, "dakkio_raft_last_index"))
	planted := secret.New(secret.AdminPrefix)
	cmd, err := json.Marshal(store.CreateKey{Key: store.APIKey{ID: "65a4f0c2a1b2c3d4e5f60718", Name: "planted", Type: store.KeyAdmin,
		Hash: secret.Hash(planted), KeyPrefix: secret.DisplayPrefix(planted), OrganizationID: org.ID, CreatedAt: time.Now().UTC()}})
	if err != nil {
		t.Fatal(err)
	}
	const cmdCreateKey = 4 // cluster/codec.go
	entry := append([]byte{cmdCreateKey}, cmd...)

	trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 2*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer trans.Close()
	req := &raft.AppendEntriesRequest{
		RPCHeader:    raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("rogue"), Addr: []byte(trans.LocalAddr())},
		Term:         term + 1,
		PrevLogEntry: last, PrevLogTerm: term,
		Entries:           []*raft.Log{{Index: last + 1, Term: term + 1, Type: raft.LogCommand, Data: entry}},
		LeaderCommitIndex: last + 1,
	}
	var resp raft.AppendEntriesResponse
	err = trans.AppendEntries("node1", raft.ServerAddress(s.raftAddr), req, &resp)
	if err == nil {
		t.Fatalf("the raft port took an AppendEntries from a client without the key (success=%v, term=%d)", resp.Success, resp.Term)
	}

	// The node serves on, and a metadata write through it commits: had the
	// entry gone in, it would be applied by now.
	if err := s.waitReady(); err != nil {
		t.Fatal(err)
	}
	admin := s.client(adminKey)
	must[*client.Bucket](t, "create a bucket after the attack")(admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "after-attack"}))
	_, err = s.client(planted).ListBuckets(ctx, client.Page{Limit: 1})
	wantStatus(t, "the planted key", err, http.StatusUnauthorized)
	if got := metric(t, s, "dakkio_raft_term"); uint64(got) != term {
		t.Errorf("raft term moved from %d to %v: the stranger's term reached the node", term, got)
	}
	if !strings.Contains(s.out.String(), "refused a raft connection") {
		t.Errorf("the refusal was not logged; output:\n%s", s.out.String())
	}

	// A data directory from before the key file (an upgrade) starts with a
	// new key and all it held.
	s.signal(syscall.SIGTERM, 30*time.Second)
	if err := os.Remove(filepath.Join(dir, node.RaftKeyFile)); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, "upgraded node", dir, nil, s)
	credFile(t, dir, node.RaftKeyFile)
	bs := must[*client.List[client.Bucket]](t, "list buckets after the upgrade")(s.client(adminKey).ListBuckets(ctx, client.Page{Limit: 10}))
	if len(bs.Data) != 1 || bs.Data[0].Name != "after-attack" {
		t.Fatalf("buckets after the upgrade = %+v", bs.Data)
	}
}
