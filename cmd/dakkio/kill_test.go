package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/node"
)

// These tests run the real binary as a child process and kill it: what a
// client saw acknowledged must survive SIGKILL, SIGTERM must stop cleanly,
// and the initial credentials must be made once and never again.

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// dakkioBinary builds this command once per test run.
func dakkioBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the dakkio binary")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "dakkio-kill-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "dakkio")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// syncBuffer collects a child's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is one run of `dakkio serve` as a child process.
type server struct {
	t        *testing.T
	name     string
	dataDir  string
	env      []string
	httpAddr string
	raftAddr string
	url      string
	cmd      *exec.Cmd
	out      *syncBuffer
	done     chan struct{} // closed when the process has exited
	state    *os.ProcessState
	hc       *http.Client
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// childEnv is this process's environment without any DAKKIO_ variable, so
// that neither the developer's shell nor another test leaks in, plus extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DAKKIO_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

const readyTimeout = 60 * time.Second

// startServer runs a node on dataDir with env added to the environment.
// It reuses the addresses of prev (a restart) when given, and picks new free
// ports when those are taken, then waits until /ready answers 200.
func startServer(t *testing.T, name, dataDir string, env []string, prev *server) *server {
	t.Helper()
	return startServerBin(t, dakkioBinary(t), name, dataDir, env, prev)
}

// startServerBin is startServer with another build of dakkio.
func startServerBin(t *testing.T, bin, name, dataDir string, env []string, prev *server) *server {
	t.Helper()
	httpAddr, raftAddr := "", ""
	if prev != nil {
		httpAddr, raftAddr = prev.httpAddr, prev.raftAddr
	}
	var lastOut string
	for attempt := range 5 {
		if attempt > 0 || httpAddr == "" {
			httpAddr, raftAddr = freeAddr(t), freeAddr(t)
		}
		s := &server{
			t: t, name: fmt.Sprintf("%s (attempt %d)", name, attempt+1), dataDir: dataDir, env: env,
			httpAddr: httpAddr, raftAddr: raftAddr, url: "http://" + httpAddr,
			out: &syncBuffer{}, done: make(chan struct{}),
			hc: &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second},
		}
		s.spawn(bin, []string{"serve", "--data-dir", dataDir, "--http-addr", httpAddr, "--raft-addr", raftAddr, "--node-id", "node1"})
		err := s.waitReady()
		if err == nil {
			return s
		}
		lastOut = s.out.String()
		if !strings.Contains(lastOut, "address already in use") {
			t.Fatalf("%s did not become ready: %v", s.name, err)
		}
		s.stop() // port taken between picking and binding: try others
	}
	t.Fatalf("%s: could not find free ports; last output:\n%s", name, lastOut)
	return nil
}

// spawn starts bin with args as this server's child process, reaps it when
// it exits, and kills it at the end of the test.
func (s *server) spawn(bin string, args []string) {
	s.t.Helper()
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = childEnv(s.env)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("cannot start %s: %v", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		s.state = s.cmd.ProcessState
		close(s.done)
	}()
	s.t.Cleanup(s.cleanup)
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waitReady polls GET /ready until 200, the process exits, or the deadline.
func (s *server) waitReady() error {
	c := client.New(s.url, client.WithHTTPClient(s.hc))
	deadline := time.After(readyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		last = c.Ready(ctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("process exited (%v) before it was ready", s.state)
		case <-deadline:
			return fmt.Errorf("not ready after %v: %v", readyTimeout, last)
		case <-tick.C:
		}
	}
}

// signal sends sig and waits, with a deadline, for the process to exit.
func (s *server) signal(sig syscall.Signal, within time.Duration) *os.ProcessState {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil && !s.exited() {
		s.t.Fatalf("cannot signal %s: %v", s.name, err)
	}
	select {
	case <-s.done:
	case <-time.After(within):
		s.t.Fatalf("%s did not exit within %v of %v", s.name, within, sig)
	}
	s.hc.CloseIdleConnections()
	return s.state
}

// stop kills the process if it still runs and waits for it.
func (s *server) stop() {
	if !s.exited() {
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.hc.CloseIdleConnections()
}

func (s *server) cleanup() {
	s.stop()
	if s.t.Failed() {
		s.t.Logf("output of %s (%s):\n%s", s.name, s.dataDir, s.out.String())
	}
}

func (s *server) client(key string) *client.Client {
	return client.New(s.url, client.WithHTTPClient(s.hc), client.WithAPIKey(key))
}

func (s *server) operator(token string) *client.Client {
	return client.New(s.url, client.WithHTTPClient(s.hc), client.WithOperatorToken(token))
}

// credFile reads an initial credential file and checks its mode.
func credFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	path := filepath.Join(dir, name)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("credential file: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("%s has mode %o, want 600", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return b
}

func noCredFiles(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{node.InitialAdminKeyFile, node.OperatorTokenFile} {
		for _, path := range []string{filepath.Join(dir, name), filepath.Join(dir, name+".tmp")} {
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s exists (%v), but the credential came from the environment", path, err)
			}
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must[T any](t *testing.T, what string) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func wantStatus(t *testing.T, what string, err error, status int) {
	t.Helper()
	if !client.IsStatus(err, status) {
		t.Fatalf("%s: got %v, want status %d", what, err, status)
	}
}

// view is everything the API shows about the data a test made, with the
// node-local lastUsedAt (not replicated, not persisted) left out.
type view struct {
	Orgs          []client.Org
	Buckets       map[string][]client.Bucket     // by org name
	Keys          map[string][]client.APIKey     // by bucket id
	Sources       map[string][]client.DataSource // by bucket id
	BucketDetails map[string]client.BucketWithStats
}

func readView(t *testing.T, ctx context.Context, op *client.Client, admins map[string]*client.Client) view {
	t.Helper()
	v := view{Buckets: map[string][]client.Bucket{}, Keys: map[string][]client.APIKey{},
		Sources: map[string][]client.DataSource{}, BucketDetails: map[string]client.BucketWithStats{}}
	v.Orgs = must[*client.List[client.Org]](t, "list orgs")(op.ListOrgs(ctx, client.Page{Limit: 1000})).Data
	for org, admin := range admins {
		bs := must[*client.List[client.Bucket]](t, "list buckets")(admin.ListBuckets(ctx, client.Page{Limit: 1000})).Data
		v.Buckets[org] = bs
		for _, b := range bs {
			ks := must[*client.List[client.APIKey]](t, "list keys")(admin.ListKeys(ctx, b.ID, client.Page{Limit: 1000})).Data
			for i := range ks {
				ks[i].LastUsedAt = nil
			}
			v.Keys[b.ID] = ks
			v.Sources[b.ID] = must[*client.List[client.DataSource]](t, "list sources")(admin.ListSources(ctx, b.ID, client.Page{Limit: 1000})).Data
			v.BucketDetails[b.ID] = *must[*client.BucketWithStats](t, "get bucket")(admin.GetBucket(ctx, b.ID))
		}
	}
	return v
}

func orgNamed(t *testing.T, orgs []client.Org, name string) client.Org {
	t.Helper()
	var found []client.Org
	for _, o := range orgs {
		if o.Name == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d organizations named %q, want exactly one: %+v", len(found), name, orgs)
	}
	return found[0]
}

var schema = map[string]client.Field{"temperature": {Type: "number", Unit: "C"}, "ok": {Type: "boolean"}}

// TestSIGKILLKeepsAcknowledgedWrites makes and deletes resources of every
// kind, kills the node with SIGKILL right after the last acknowledgement,
// and checks that the restarted node shows exactly what was acknowledged.
func TestSIGKILLKeepsAcknowledgedWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := testCtx(t)
	s := startServer(t, "first start", dir, nil, nil)

	keyFile := credFile(t, dir, node.InitialAdminKeyFile)
	tokenFile := credFile(t, dir, node.OperatorTokenFile)
	adminKey, token := string(bytes.TrimSpace(keyFile)), string(bytes.TrimSpace(tokenFile))
	if !strings.HasPrefix(adminKey, secret.AdminPrefix) || !secret.WellFormed(adminKey) {
		t.Fatalf("initial admin key %q is not a well-formed admin key", adminKey)
	}
	admin, op := s.client(adminKey), s.operator(token)

	// Creates.
	kept := must[*client.Bucket](t, "create bucket")(admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "kept"}))
	doomed := must[*client.Bucket](t, "create bucket")(admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "doomed"}))
	retention := 90
	renamed := must[*client.Bucket](t, "create bucket")(admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "before-rename", RetentionDays: &retention}))
	newName, archived := "after-rename", "archived"
	must[*client.Bucket](t, "update bucket")(admin.UpdateBucket(ctx, renamed.ID, client.UpdateBucketRequest{Name: &newName, Status: &archived}))
	writer := must[*client.CreatedKey](t, "create key")(admin.CreateKey(ctx, kept.ID, client.CreateKeyRequest{Name: "writer", Type: "write"}))
	revoked := must[*client.CreatedKey](t, "create key")(admin.CreateKey(ctx, kept.ID, client.CreateKeyRequest{Name: "revoked", Type: "read"}))
	reader := must[*client.CreatedKey](t, "create key")(admin.CreateKey(ctx, kept.ID, client.CreateKeyRequest{Name: "reader", Type: "read"}))
	cascaded := must[*client.CreatedKey](t, "create key")(admin.CreateKey(ctx, doomed.ID, client.CreateKeyRequest{Name: "goes with bucket", Type: "write"}))
	must[*client.DataSource](t, "create source")(s.client(writer.Key).CreateSource(ctx, kept.ID, client.CreateSourceRequest{Name: "station-1", Schema: schema}))
	must[*client.DataSource](t, "create source")(admin.CreateSource(ctx, kept.ID, client.CreateSourceRequest{Name: "station-2", Type: "api", Schema: schema}))
	must[*client.DataSource](t, "create source")(admin.CreateSource(ctx, doomed.ID, client.CreateSourceRequest{Name: "station-3", Schema: schema}))
	acme := must[*client.CreatedOrg](t, "create org")(op.CreateOrg(ctx, client.CreateOrgRequest{Name: "acme", Plan: "pro"}))
	acmeAdmin := s.client(acme.AdminKey.Key)
	must[*client.Bucket](t, "create acme bucket")(acmeAdmin.CreateBucket(ctx, client.CreateBucketRequest{Name: "kept"}))
	enterprise := "enterprise"
	must[*client.Org](t, "update org")(op.UpdateOrg(ctx, acme.Organization.ID, client.UpdateOrgRequest{Plan: &enterprise}))
	defaultOrg := orgNamed(t, must[*client.List[client.Org]](t, "list orgs")(op.ListOrgs(ctx, client.Page{})).Data, "default")
	extraAdmin := must[*client.CreatedKey](t, "create admin key")(op.CreateAdminKey(ctx, defaultOrg.ID, "second admin"))

	// Deletes.
	must[*client.DeletedKey](t, "delete key")(admin.DeleteKey(ctx, kept.ID, revoked.ID))
	gone := must[*client.DeleteBucketResult](t, "delete bucket")(admin.DeleteBucket(ctx, doomed.ID))
	if gone.DeletedResources.APIKeys != 1 || gone.DeletedResources.DataSources != 1 {
		t.Fatalf("delete bucket removed %+v, want 1 key and 1 source", gone.DeletedResources)
	}

	admins := map[string]*client.Client{"default": admin, "acme": acmeAdmin}
	want := readView(t, ctx, op, admins)

	if st := s.signal(syscall.SIGKILL, 10*time.Second); st.Success() {
		t.Fatalf("SIGKILLed process exited successfully: %v", st)
	}
	s = startServer(t, "restart after SIGKILL", dir, nil, s)
	admin, op, acmeAdmin = s.client(adminKey), s.operator(token), s.client(acme.AdminKey.Key)
	admins = map[string]*client.Client{"default": admin, "acme": acmeAdmin}

	if got := readView(t, ctx, op, admins); !reflect.DeepEqual(got, want) {
		t.Fatalf("after SIGKILL and restart the node shows\n%+v\nwant what was acknowledged:\n%+v", got, want)
	}
	orgs := must[*client.List[client.Org]](t, "list orgs")(op.ListOrgs(ctx, client.Page{})).Data
	if len(orgs) != 2 {
		t.Fatalf("orgs after restart = %+v, want default and acme", orgs)
	}
	orgNamed(t, orgs, "default")
	if got := orgNamed(t, orgs, "acme"); got.Plan != "enterprise" {
		t.Fatalf("acme plan = %q, want the acknowledged update", got.Plan)
	}

	// Deleted resources stay deleted; live keys keep working.
	_, err := admin.GetBucket(ctx, doomed.ID)
	wantStatus(t, "deleted bucket", err, http.StatusNotFound)
	for _, k := range []*client.CreatedKey{revoked, cascaded} {
		_, err := s.client(k.Key).ListSources(ctx, kept.ID, client.Page{})
		wantStatus(t, "deleted key "+k.Name, err, http.StatusUnauthorized)
	}
	for _, k := range []*client.CreatedKey{writer, reader} {
		must[*client.List[client.DataSource]](t, "live key "+k.Name)(s.client(k.Key).ListSources(ctx, kept.ID, client.Page{}))
	}
	must[*client.List[client.Bucket]](t, "second admin key")(s.client(extraAdmin.Key).ListBuckets(ctx, client.Page{}))
	_, err = admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "kept"})
	wantStatus(t, "recreating an acknowledged bucket", err, http.StatusConflict)
	must[*client.Bucket](t, "reuse a deleted bucket's name")(admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "doomed"}))

	// The initial credentials were neither rewritten nor replaced.
	if got := credFile(t, dir, node.InitialAdminKeyFile); !bytes.Equal(got, keyFile) {
		t.Fatalf("initial-admin-key changed across the restart")
	}
	if got := credFile(t, dir, node.OperatorTokenFile); !bytes.Equal(got, tokenFile) {
		t.Fatalf("operator-token changed across the restart")
	}
}

// TestSIGKILLDuringWrites kills the node while clients are creating buckets:
// every create that was acknowledged must be there after a restart; a create
// in flight may or may not be, but never twice.
func TestSIGKILLDuringWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := testCtx(t)
	s := startServer(t, "first start", dir, nil, nil)
	adminKey := string(bytes.TrimSpace(credFile(t, dir, node.InitialAdminKeyFile)))
	admin := s.client(adminKey)

	const workers, killAfter = 8, 80
	var (
		mu       sync.Mutex
		acked    []string
		attempts = map[string]bool{}
		enough   = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				mu.Lock()
				attempts[name] = true
				mu.Unlock()
				if _, err := admin.CreateBucket(ctx, client.CreateBucketRequest{Name: name}); err != nil {
					return // the node is gone
				}
				mu.Lock()
				acked = append(acked, name)
				if len(acked) == killAfter {
					close(enough)
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatal("clients did not get enough acknowledgements")
	}
	s.signal(syscall.SIGKILL, 10*time.Second)
	wg.Wait()

	s = startServer(t, "restart after SIGKILL", dir, nil, s)
	list := must[*client.List[client.Bucket]](t, "list buckets")(s.client(adminKey).ListBuckets(ctx, client.Page{Limit: 1000}))
	var got []string
	for _, b := range list.Data {
		got = append(got, b.Name)
	}
	for _, name := range acked {
		if !slices.Contains(got, name) {
			t.Errorf("acknowledged bucket %q lost in the crash", name)
		}
	}
	seen := map[string]bool{}
	for _, name := range got {
		if seen[name] || !attempts[name] {
			t.Errorf("bucket %q after restart: duplicated or never requested", name)
		}
		seen[name] = true
	}
	t.Logf("%d creates acknowledged before SIGKILL, %d buckets after restart", len(acked), len(got))
}

// TestSIGTERMStopsCleanly: SIGTERM ends the process with status 0 within a
// deadline, and a restart serves the same data.
func TestSIGTERMStopsCleanly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := testCtx(t)
	s := startServer(t, "first start", dir, nil, nil)
	adminKey := string(bytes.TrimSpace(credFile(t, dir, node.InitialAdminKeyFile)))
	token := string(bytes.TrimSpace(credFile(t, dir, node.OperatorTokenFile)))
	admin := s.client(adminKey)
	b := must[*client.Bucket](t, "create bucket")(admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "kept"}))
	k := must[*client.CreatedKey](t, "create key")(admin.CreateKey(ctx, b.ID, client.CreateKeyRequest{Name: "w", Type: "write"}))
	must[*client.DataSource](t, "create source")(admin.CreateSource(ctx, b.ID, client.CreateSourceRequest{Name: "s", Schema: schema}))
	want := readView(t, ctx, s.operator(token), map[string]*client.Client{"default": admin})

	st := s.signal(syscall.SIGTERM, 20*time.Second)
	if st.ExitCode() != 0 {
		t.Fatalf("exit after SIGTERM: %v, want status 0", st)
	}
	if out := s.out.String(); !strings.Contains(out, "stopped") {
		t.Fatalf("no clean shutdown in the log:\n%s", out)
	}

	s = startServer(t, "restart after SIGTERM", dir, nil, s)
	admin = s.client(adminKey)
	if got := readView(t, ctx, s.operator(token), map[string]*client.Client{"default": admin}); !reflect.DeepEqual(got, want) {
		t.Fatalf("after SIGTERM and restart:\n%+v\nwant\n%+v", got, want)
	}
	must[*client.List[client.DataSource]](t, "write key after restart")(s.client(k.Key).ListSources(ctx, b.ID, client.Page{}))
}

// TestInitialCredentials: credentials from the environment are used and not
// written to disk; whatever the first start chose, later starts keep, whatever
// their environment says.
func TestInitialCredentials(t *testing.T) {
	t.Parallel()
	newToken := func() string { return secret.New(secret.OperatorPrefix) }
	envFor := func(key, token string) []string {
		return []string{"DAKKIO_INITIAL_ADMIN_KEY=" + key, "DAKKIO_OPERATOR_TOKEN=" + token}
	}
	// works checks that key and token are accepted, others refused, and
	// that the initial organization exists once.
	works := func(t *testing.T, s *server, key, token string, refused ...string) {
		t.Helper()
		ctx := testCtx(t)
		must[*client.List[client.Bucket]](t, "admin key")(s.client(key).ListBuckets(ctx, client.Page{}))
		orgs := must[*client.List[client.Org]](t, "operator token")(s.operator(token).ListOrgs(ctx, client.Page{}))
		if len(orgs.Data) != 1 || orgs.Data[0].Name != "default" || orgs.Data[0].Plan != "enterprise" {
			t.Fatalf("orgs = %+v, want one enterprise org named default", orgs.Data)
		}
		for _, r := range refused {
			if strings.HasPrefix(r, secret.AdminPrefix) {
				_, err := s.client(r).ListBuckets(ctx, client.Page{})
				wantStatus(t, "admin key of a later start", err, http.StatusUnauthorized)
			} else {
				_, err := s.operator(r).ListOrgs(ctx, client.Page{})
				wantStatus(t, "operator token of a later start", err, http.StatusUnauthorized)
			}
		}
	}

	t.Run("from the environment", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		key, token := secret.New(secret.AdminPrefix), newToken()
		s := startServer(t, "first start with env", dir, envFor(key, token), nil)
		works(t, s, key, token)
		noCredFiles(t, dir)
		s.signal(syscall.SIGTERM, 20*time.Second)

		key2, token2 := secret.New(secret.AdminPrefix), newToken()
		s = startServer(t, "restart with other env", dir, envFor(key2, token2), s)
		works(t, s, key, token, key2, token2)
		noCredFiles(t, dir)
		s.signal(syscall.SIGKILL, 10*time.Second)

		s = startServer(t, "restart without env", dir, nil, s)
		works(t, s, key, token)
		noCredFiles(t, dir)
	})

	t.Run("from files, then the environment", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		s := startServer(t, "first start without env", dir, nil, nil)
		keyFile := credFile(t, dir, node.InitialAdminKeyFile)
		tokenFile := credFile(t, dir, node.OperatorTokenFile)
		key, token := string(bytes.TrimSpace(keyFile)), string(bytes.TrimSpace(tokenFile))
		works(t, s, key, token)
		s.signal(syscall.SIGTERM, 20*time.Second)

		key2, token2 := secret.New(secret.AdminPrefix), newToken()
		s = startServer(t, "restart with env", dir, envFor(key2, token2), s)
		works(t, s, key, token, key2, token2)
		if got := credFile(t, dir, node.InitialAdminKeyFile); !bytes.Equal(got, keyFile) {
			t.Fatal("initial-admin-key rewritten by a later start")
		}
		if got := credFile(t, dir, node.OperatorTokenFile); !bytes.Equal(got, tokenFile) {
			t.Fatal("operator-token rewritten by a later start")
		}
	})
}

// TestSIGKILLKeepsAcknowledgedPoints: points acknowledged by batch ingest
// are all there, with their values, after the process is killed mid-ingest
// and restarted; of the batches in flight at the kill, none is half-stored.
func TestSIGKILLKeepsAcknowledgedPoints(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := testCtx(t)
	s := startServer(t, "first start", dir, nil, nil)
	adminKey := string(bytes.TrimSpace(credFile(t, dir, node.InitialAdminKeyFile)))
	admin := s.client(adminKey)
	bucket := must[*client.Bucket](t, "create bucket")(admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "kill", RetentionDays: ptr(3650)}))

	const workers, batch, killAfter = 4, 200, 40
	start := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	value := func(w, i int) float64 { return float64((w*7919+i)%1000) / 10 }
	sources := make([]string, workers)
	for w := range sources {
		src := must[*client.DataSource](t, "create source")(admin.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{
			Name: fmt.Sprintf("s%d", w), Schema: map[string]client.Field{"v": {Type: "number"}}}))
		sources[w] = src.ID
	}
	var (
		mu     sync.Mutex
		acked  = make([]int, workers) // batches acknowledged per worker, in order
		total  int
		enough = make(chan struct{})
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				pts := make([]client.PointInput, batch)
				for i := range pts {
					n := k*batch + i
					pts[i] = client.PointInput{DataSourceID: sources[w], Timestamp: start.Add(time.Duration(n) * time.Second),
						Values: map[string]any{"v": value(w, n)}}
				}
				if _, err := admin.WriteBatch(ctx, client.WriteBatchRequest{BucketID: bucket.ID, DataPoints: pts}); err != nil {
					return // the node is gone
				}
				mu.Lock()
				acked[w]++
				if total++; total == killAfter {
					close(enough)
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatal("clients did not get enough acknowledgements")
	}
	s.signal(syscall.SIGKILL, 10*time.Second)
	wg.Wait()

	s = startServer(t, "restart after SIGKILL", dir, nil, s)
	c := s.client(adminKey)
	var stored int64
	for w, src := range sources {
		want := int64(acked[w] * batch)
		// Every acknowledged point, by count over the acknowledged span...
		res := must[*client.QueryResult](t, "count")(c.Query(ctx, client.QueryRequest{BucketID: bucket.ID, Aggregation: "count",
			Filters: client.QueryFilters{DataSourceID: src, StartTime: start, EndTime: start.Add(time.Duration(want) * time.Second)}}))
		var got int64
		for _, row := range res.Data {
			got += row.Count
		}
		if got != want {
			t.Errorf("source %d: %d points in the acknowledged span after restart, want %d", w, got, want)
		}
		// ...with its value (the last acknowledged batch, point by point).
		if acked[w] > 0 {
			from := (acked[w] - 1) * batch
			raw := must[*client.QueryResult](t, "raw")(c.Query(ctx, client.QueryRequest{BucketID: bucket.ID, Filters: client.QueryFilters{
				DataSourceID: src, Limit: batch, StartTime: start.Add(time.Duration(from) * time.Second)}}))
			for i, p := range raw.Data {
				if v, _ := p.Values["v"].(float64); i < batch && v != value(w, from+i) {
					t.Fatalf("source %d point %d: value %v, want %v", w, from+i, v, value(w, from+i))
				}
			}
		}
		// A batch in flight at the kill is all there or not at all.
		all := must[*client.QueryResult](t, "count all")(c.Query(ctx, client.QueryRequest{BucketID: bucket.ID, Aggregation: "count",
			Filters: client.QueryFilters{DataSourceID: src}}))
		var n int64
		for _, row := range all.Data {
			n += row.Count
		}
		if n != want && n != want+batch {
			t.Errorf("source %d: %d points stored, want %d or %d (one whole batch in flight)", w, n, want, want+batch)
		}
		stored += n
	}
	b := must[*client.BucketWithStats](t, "get bucket")(c.GetBucket(ctx, bucket.ID))
	if b.Stats.DataPointCount != stored {
		t.Errorf("stats.dataPointCount = %d, want %d (what queries count)", b.Stats.DataPointCount, stored)
	}
	t.Logf("%d batches acknowledged before SIGKILL; %d points stored after restart", total, stored)
}

func ptr[T any](v T) *T { return &v }
