package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/dakkio/dakkio/store"
)

// testKey authenticates the test nodes' Raft connections.
var testKey = []byte("raft test key, 32 bytes long....")

func testLogger() *slog.Logger {
	if os.Getenv("DAKKIO_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// node is a one-voter Raft over its own state; close is idempotent and runs
// at cleanup, so a test may close early to reopen the directory.
type node struct {
	*Raft
	state  *store.State
	closed bool
}

func (n *node) close(t *testing.T) {
	t.Helper()
	if n.closed {
		return
	}
	n.closed = true
	if err := n.Raft.Close(); err != nil {
		t.Errorf("closing raft: %v", err)
	}
}

func open(t *testing.T, dir, addr string, mod ...func(*Config)) *node {
	t.Helper()
	cfg := Config{NodeID: "n1", Dir: dir, BindAddr: addr, Key: testKey, BootstrapSelf: true, Fast: true, Logger: testLogger()}
	for _, m := range mod {
		m(&cfg)
	}
	n := &node{state: store.NewState(1 << 20)}
	r, err := New(cfg, n.state)
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	n.Raft = r
	t.Cleanup(func() { n.close(t) })
	return n
}

func openReady(t *testing.T, dir, addr string, mod ...func(*Config)) *node {
	t.Helper()
	n := open(t, dir, addr, mod...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v (status %+v)", err, n.Status())
	}
	return n
}

func apply(t *testing.T, n *node, cmd any) any {
	t.Helper()
	v, err := n.Apply(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Apply(%T): %v", cmd, err)
	}
	return v
}

// encodedState is the whole state as a snapshot writes it.
func encodedState(t *testing.T, s *store.State) string {
	t.Helper()
	var buf bytes.Buffer
	if err := store.WriteSnapshot(&buf, s.Snapshot()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// cmds makes commands with fresh ids.
type cmds struct{ n int }

func (c *cmds) id() string { c.n++; return fmt.Sprintf("%024x", c.n) }

func (c *cmds) bootstrap() store.Bootstrap {
	org := store.Org{ID: c.id(), Name: "default", Plan: store.PlanEnterprise, CreatedAt: t0, UpdatedAt: t0}
	return store.Bootstrap{Org: org, OperatorTokenHash: "op",
		AdminKey: store.APIKey{ID: c.id(), Type: store.KeyAdmin, Hash: "admin", OrganizationID: org.ID, CreatedAt: t0}}
}

func (c *cmds) bucket(orgID, name string) store.CreateBucket {
	return store.CreateBucket{Bucket: store.Bucket{ID: c.id(), Name: name, OrganizationID: orgID, RetentionDays: 30, Status: store.BucketActive, CreatedAt: t0, UpdatedAt: t0}}
}

func (c *cmds) key(orgID, bucketID string) store.CreateKey {
	id := c.id()
	return store.CreateKey{Key: store.APIKey{ID: id, Name: "k", Type: store.KeyWrite, Hash: "hash-" + id, OrganizationID: orgID, BucketID: bucketID, CreatedAt: t0}}
}

func (c *cmds) source(orgID, bucketID, name string) store.CreateSource {
	return store.CreateSource{Source: store.DataSource{ID: c.id(), BucketID: bucketID, OrganizationID: orgID, Name: name, Type: "sensor",
		Schema: map[string]store.Field{"v": {Type: "number"}}, Downsampling: true, Status: "active", CreatedAt: t0, UpdatedAt: t0}}
}

func wantBusinessError(t *testing.T, v any, err, kind error) {
	t.Helper()
	var se *store.Error
	if !errors.As(err, &se) || !errors.Is(err, kind) {
		t.Fatalf("error = %v, want a *store.Error of kind %v", err, kind)
	}
	if errors.Is(err, ErrNotLeader) {
		t.Fatalf("business error %v wraps ErrNotLeader", err)
	}
	if v != nil && !reflect.ValueOf(v).IsZero() {
		t.Fatalf("refused command returned value %#v", v)
	}
}

func TestNewRequiresConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Dir: t.TempDir(), BindAddr: "127.0.0.1:0"},
		{NodeID: "n1", BindAddr: "127.0.0.1:0"},
		{NodeID: "n1", Dir: t.TempDir()},
		{NodeID: "n1", Dir: t.TempDir(), BindAddr: "127.0.0.1:0"},                           // no key
		{NodeID: "n1", Dir: t.TempDir(), BindAddr: "127.0.0.1:0", Key: []byte("too short")}, // weak key
	} {
		if len(cfg.BindAddr) > 0 && len(cfg.NodeID) > 0 && len(cfg.Dir) > 0 {
			cfg.Logger = testLogger()
		}
		if r, err := New(cfg, store.NewState(1<<20)); err == nil {
			r.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestRaftAppliesAndSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	n := openReady(t, dir, "127.0.0.1:0")
	if !n.IsLeader() || n.Status().State != "Leader" || n.Status().LeaderID != "n1" {
		t.Fatalf("one-node cluster is not its own leader: %+v", n.Status())
	}
	servers, err := n.Servers()
	if err != nil || len(servers) != 1 || servers[0] != (Server{ID: "n1", Address: n.Addr(), Voter: true}) {
		t.Fatalf("Servers() = %+v, %v", servers, err)
	}

	var c cmds
	boot := c.bootstrap()
	orgID := boot.Org.ID
	apply(t, n, boot)
	b1, b2 := c.bucket(orgID, "b1"), c.bucket(orgID, "b2")
	apply(t, n, b1)
	apply(t, n, b2)
	k1, k2 := c.key(orgID, b1.Bucket.ID), c.key(orgID, b1.Bucket.ID)
	apply(t, n, k1)
	apply(t, n, k2)
	apply(t, n, c.source(orgID, b1.Bucket.ID, "s1"))
	apply(t, n, c.source(orgID, b2.Bucket.ID, "s2"))
	upd := apply(t, n, store.UpdateBucket{OrgID: orgID, ID: b1.Bucket.ID, Name: ptr("b1-renamed"), At: t0.Add(time.Hour)})
	if got := upd.(store.Bucket); got.Name != "b1-renamed" || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("UpdateBucket value = %+v", got)
	}
	del := apply(t, n, store.DeleteKey{OrgID: orgID, BucketID: b1.Bucket.ID, KeyID: k2.Key.ID})
	if got := del.(store.APIKey); got.ID != k2.Key.ID {
		t.Fatalf("DeleteKey value = %+v", got)
	}
	gone := apply(t, n, store.DeleteBucket{OrgID: orgID, ID: b2.Bucket.ID})
	if got := gone.(store.DeletedBucket); got.DataSources != 1 || got.Bucket.ID != b2.Bucket.ID {
		t.Fatalf("DeleteBucket value = %+v", got)
	}

	// Business errors come back as values of the apply, not as Raft failures.
	v, err := n.Apply(context.Background(), c.bucket(orgID, "b1-renamed"))
	wantBusinessError(t, v, err, store.ErrConflict)
	v, err = n.Apply(context.Background(), store.DeleteKey{OrgID: orgID, BucketID: b1.Bucket.ID, KeyID: k2.Key.ID})
	wantBusinessError(t, v, err, store.ErrNotFound)
	v, err = n.Apply(context.Background(), boot)
	wantBusinessError(t, v, err, store.ErrAlreadyInitialized)
	if _, err := n.Apply(context.Background(), "not a command"); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("unknown command: %v", err)
	}

	want := encodedState(t, n.state)
	addr := n.Addr()
	n.close(t)

	// A fresh state on the same directory is rebuilt from the log.
	n = openReady(t, dir, addr)
	if got := encodedState(t, n.state); got != want {
		t.Fatalf("state after reopen:\n%s\nwant\n%s", got, want)
	}
	if _, ok := n.state.Authenticate(k1.Key.Hash); !ok {
		t.Fatal("live key refused after reopen")
	}
	if _, ok := n.state.Authenticate(k2.Key.Hash); ok {
		t.Fatal("deleted key accepted after reopen")
	}
	// The rebuilt indexes still enforce the rules, and new commands commit.
	v, err = n.Apply(context.Background(), c.bucket(orgID, "b1-renamed"))
	wantBusinessError(t, v, err, store.ErrConflict)
	apply(t, n, c.bucket(orgID, "b1"))
	want = encodedState(t, n.state)
	n.close(t)

	// Even on another port: a lone voter elects itself whatever its address.
	n = openReady(t, dir, "127.0.0.1:0")
	if got := encodedState(t, n.state); got != want {
		t.Fatalf("state after second reopen differs")
	}
}

func TestRaftRestoresFromSnapshot(t *testing.T) {
	dir := t.TempDir()
	n := openReady(t, dir, "127.0.0.1:0")
	var c cmds
	boot := c.bootstrap()
	orgID := boot.Org.ID
	apply(t, n, boot)
	var keys []store.CreateKey
	for i := range 20 {
		b := c.bucket(orgID, "before-"+strconv.Itoa(i))
		apply(t, n, b)
		k := c.key(orgID, b.Bucket.ID)
		apply(t, n, k)
		keys = append(keys, k)
	}

	// Nothing in the package's API takes a snapshot on demand (hashicorp/raft
	// takes them every 2-4 minutes or 8192 entries), so ask raft directly.
	sf := n.raft.Snapshot()
	if err := sf.Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	meta, rc, err := sf.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if meta.Index < 41 {
		t.Fatalf("snapshot at index %d, want at least 41 (all applies)", meta.Index)
	}

	// Entries after the snapshot are replayed on top of it.
	for i := range 5 {
		apply(t, n, c.bucket(orgID, "after-"+strconv.Itoa(i)))
	}
	apply(t, n, store.DeleteBucket{OrgID: orgID, ID: keys[0].Key.BucketID})
	want := encodedState(t, n.state)
	addr := n.Addr()
	n.close(t)

	// Drop the log up to the snapshot, as compaction would: the state can now
	// only come back through Restore.
	logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	first, err := logs.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := logs.DeleteRange(first, meta.Index); err != nil {
		t.Fatal(err)
	}
	if first, _ := logs.FirstIndex(); first != meta.Index+1 {
		t.Fatalf("first log index after compaction = %d, want %d", first, meta.Index+1)
	}
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}

	n = openReady(t, dir, addr)
	if got := encodedState(t, n.state); got != want {
		t.Fatalf("state restored from snapshot and log tail:\n%s\nwant\n%s", got, want)
	}
	if got := n.raft.Stats()["last_snapshot_index"]; got != strconv.FormatUint(meta.Index, 10) {
		t.Fatalf("last_snapshot_index = %s, want %d", got, meta.Index)
	}
	if _, ok := n.state.Authenticate(keys[1].Key.Hash); !ok {
		t.Fatal("key from the snapshot refused")
	}
	if _, ok := n.state.Authenticate(keys[0].Key.Hash); ok {
		t.Fatal("key of a bucket deleted after the snapshot accepted")
	}
	v, err := n.Apply(context.Background(), c.bucket(orgID, "before-3"))
	wantBusinessError(t, v, err, store.ErrConflict)
}

func TestOnDeleteBucketRunsInApply(t *testing.T) {
	var calls []string
	n := openReady(t, t.TempDir(), "127.0.0.1:0", func(c *Config) {
		c.OnDeleteBucket = func(bucketID string) int64 {
			calls = append(calls, bucketID) // the FSM applies from one goroutine
			return 42
		}
	})
	var c cmds
	boot := c.bootstrap()
	apply(t, n, boot)
	b := c.bucket(boot.Org.ID, "b")
	apply(t, n, b)
	d := apply(t, n, store.DeleteBucket{OrgID: boot.Org.ID, ID: b.Bucket.ID}).(store.DeletedBucket)
	if d.DataPoints != 42 {
		t.Fatalf("DataPoints = %d, want what the hook returned", d.DataPoints)
	}
	// A refused delete does not reach the hook.
	v, err := n.Apply(context.Background(), store.DeleteBucket{OrgID: boot.Org.ID, ID: b.Bucket.ID})
	wantBusinessError(t, v, err, store.ErrNotFound)
	n.close(t) // stops the FSM goroutine before calls is read
	if len(calls) != 1 || calls[0] != b.Bucket.ID {
		t.Fatalf("hook calls = %v, want [%s]", calls, b.Bucket.ID)
	}
}

// TestNoLeaderWithoutBootstrap: a node with no Raft state that was not asked
// to bootstrap waits for others; it is not ready and refuses commands.
func TestNoLeaderWithoutBootstrap(t *testing.T) {
	n := open(t, t.TempDir(), "127.0.0.1:0", func(c *Config) { c.BootstrapSelf = false })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := n.WaitReady(ctx); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("WaitReady = %v, want ErrNoLeader", err)
	}
	if n.Ready() || n.IsLeader() {
		t.Fatal("node without a cluster says it is ready")
	}
	var c cmds
	if _, err := n.Apply(context.Background(), c.bootstrap()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Apply on a node without a leader = %v, want ErrNotLeader", err)
	}
}
