package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// opRequest is one request as the fake node received it.
type opRequest struct {
	Method, Path, Query, Token, Body string
}

// opFake is a fake node answering every request with status and body.
type opFake struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []opRequest
}

func newOpFake(t *testing.T, status int, body string) *opFake {
	t.Helper()
	return newOpFakeHeader(t, status, body, nil)
}

// newOpFakeHeader is newOpFake that also sets header on every answer.
func newOpFakeHeader(t *testing.T, status int, body string, header http.Header) *opFake {
	t.Helper()
	f := &opFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, opRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Operator-Token"), string(b)})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		for k, vs := range header {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *opFake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *opFake) only(t *testing.T) opRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) != 1 {
		t.Fatalf("server got %d requests, want 1: %+v", len(f.reqs), f.reqs)
	}
	return f.reqs[0]
}

// isolateOperatorEnv clears the variables the commands read, so the
// developer's environment cannot leak into a test, and points the data dir
// at an empty temporary directory.
func isolateOperatorEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DAKKIO_OPERATOR_TOKEN", "")
	t.Setenv("DAKKIO_ADDR", "")
	t.Setenv("DAKKIO_DATA_DIR", dir)
	return dir
}

func runOp(cmd func([]string, io.Writer, io.Writer) int, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = cmd(args, &out, &errb)
	return code, out.String(), errb.String()
}

const (
	createdOrgBody = `{"data":{"organization":{"_id":"65a000000000000000000001","name":"acme","plan":"pro",
		"createdAt":"2024-01-15T10:30:00Z","updatedAt":"2024-01-15T10:30:00Z"},
		"adminKey":{"_id":"65a000000000000000000002","name":"admin","type":"admin","key":"dakkio_a_SECRETSECRETSECRETSECRETSECRET12",
		"keyPrefix":"dakkio_a_SEC","organizationId":"65a000000000000000000001","createdAt":"2024-01-15T10:30:00Z"}},"metadata":{}}`
	orgBody = `{"data":{"_id":"65a000000000000000000001","name":"acme","plan":"enterprise",
		"createdAt":"2024-01-15T10:30:00Z","updatedAt":"2024-02-01T00:00:00Z"},"metadata":{}}`
	keyBody = `{"data":{"_id":"65a000000000000000000003","name":"ci","type":"admin","key":"dakkio_a_OTHERKEYOTHERKEYOTHERKEYOTHERKEY",
		"keyPrefix":"dakkio_a_OTH","organizationId":"65a000000000000000000001","createdAt":"2024-01-15T10:30:00Z"},"metadata":{}}`
	listBody = `{"data":[{"_id":"65a000000000000000000001","name":"default","plan":"enterprise","createdAt":"2024-01-15T10:30:00Z"},
		{"_id":"65a000000000000000000009","name":"acme","plan":"free","createdAt":"2024-01-16T00:00:00Z"}],
		"metadata":{},"pagination":{"limit":2,"offset":0,"total":5,"hasMore":true}}`
	removedBody   = `{"data":{"removedNode":"node3"},"metadata":{}}`
	adminKeysBody = `{"data":[{"_id":"65a000000000000000000002","name":"admin","type":"admin","keyPrefix":"dakkio_a_SEC",
		"organizationId":"65a000000000000000000001","createdAt":"2024-01-15T10:30:00Z","lastUsedAt":"2024-02-01T08:00:00Z"},
		{"_id":"65a000000000000000000003","name":"ci","type":"admin","keyPrefix":"dakkio_a_OTH",
		"organizationId":"65a000000000000000000001","createdAt":"2024-01-16T10:30:00Z","lastUsedAt":null}],
		"metadata":{},"pagination":{"limit":100,"offset":0,"total":2,"hasMore":false}}`
	revokedKeyBody = `{"data":{"deletedKey":{"_id":"65a000000000000000000003","name":"ci","type":"admin"}},"metadata":{}}`
	tokenBody      = `{"data":{"token":"dakkio_op_NEWTOKENNEWTOKENNEWTOKENNEWTOKENNEWTOKEN"},"metadata":{}}`
	clusterBody    = `{"data":{"nodeId":"node1","leaderId":"node1",
		"nodes":[{"nodeId":"node1","httpAddress":"127.0.0.1:8080","raftAddress":"127.0.0.1:8300","state":"Leader","voter":true,"healthy":true},
		         {"nodeId":"node2","httpAddress":"","raftAddress":"127.0.0.1:8301","state":"Follower","voter":false,"healthy":false}],
		"raft":{"nodeId":"node1","raftAddress":"127.0.0.1:8300","state":"Leader","leaderId":"node1","leaderAddress":"127.0.0.1:8300",
		        "term":7,"lastIndex":42,"commitIndex":41,"appliedIndex":40}},"metadata":{}}`
)

func TestOperatorTokenResolution(t *testing.T) {
	tests := []struct {
		name      string
		flag, env string
		file      string // contents of <data-dir>/operator-token; "" means no file
		want      string // token the server receives; "" means the command must fail
	}{
		{name: "flag wins", flag: "from-flag", env: "from-env", file: "from-file", want: "from-flag"},
		{name: "env beats file", env: "from-env", file: "from-file", want: "from-env"},
		{name: "file trimmed", file: "  from-file\n", want: "from-file"},
		{name: "nothing", want: ""},
		{name: "blank file", file: " \n", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolateOperatorEnv(t)
			t.Setenv("DAKKIO_OPERATOR_TOKEN", tt.env)
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "operator-token"), []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			f := newOpFake(t, 200, clusterBody)
			args := []string{"status", "--addr", f.srv.URL}
			if tt.flag != "" {
				args = append(args, "--token", tt.flag)
			}
			code, _, stderr := runOp(clusterCommand, args...)
			if tt.want == "" {
				if code != 2 || !strings.Contains(stderr, "operator token") {
					t.Errorf("exit %d, stderr %q; want 2 and a message about the token", code, stderr)
				}
				if f.count() != 0 {
					t.Errorf("sent %d requests without a token", f.count())
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if got := f.only(t).Token; got != tt.want {
				t.Errorf("token sent = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOperatorDataDirFlag(t *testing.T) {
	isolateOperatorEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "operator-token"), []byte("in-flag-dir"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newOpFake(t, 200, clusterBody)
	if code, _, stderr := runOp(clusterCommand, "status", "--addr", f.srv.URL, "--data-dir", dir); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if got := f.only(t).Token; got != "in-flag-dir" {
		t.Errorf("token sent = %q", got)
	}
}

func TestOperatorAddrFromEnvHostPort(t *testing.T) {
	isolateOperatorEnv(t)
	f := newOpFake(t, 200, clusterBody)
	t.Setenv("DAKKIO_ADDR", strings.TrimPrefix(f.srv.URL, "http://"))
	if code, _, stderr := runOp(clusterCommand, "status", "--token", "t"); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	f.only(t)
}

func TestOperatorRequests(t *testing.T) {
	tests := []struct {
		name         string
		cmd          func([]string, io.Writer, io.Writer) int
		args         []string
		status       int
		resp         string
		method, path string
		query        string
		body         string // expected request body, as JSON; "" means none
		out          []string
	}{
		{
			name: "org create", cmd: orgCommand, args: []string{"create", "--name", "acme", "--plan", "pro"},
			status: 201, resp: createdOrgBody, method: "POST", path: "/api/operator/orgs", body: `{"name":"acme","plan":"pro"}`,
			out: []string{"65a000000000000000000001", "acme", "pro", "dakkio_a_SECRETSECRETSECRETSECRETSECRET12", "only once"},
		},
		{
			name: "org create default plan", cmd: orgCommand, args: []string{"create", "--name=acme"},
			status: 201, resp: createdOrgBody, method: "POST", path: "/api/operator/orgs", body: `{"name":"acme"}`,
			out: []string{"dakkio_a_SECRETSECRETSECRETSECRETSECRET12"},
		},
		{
			name: "org list", cmd: orgCommand, args: []string{"list", "--limit", "2"},
			status: 200, resp: listBody, method: "GET", path: "/api/operator/orgs", query: "limit=2",
			out: []string{"ID", "NAME", "PLAN", "CREATED", "65a000000000000000000009", "acme", "free", "2024-01-16T00:00:00Z"},
		},
		{
			name: "org list offset", cmd: orgCommand, args: []string{"list", "--offset", "3"},
			status: 200, resp: listBody, method: "GET", path: "/api/operator/orgs", query: "offset=3",
		},
		{
			name: "org update id first", cmd: orgCommand, args: []string{"update", "65a000000000000000000001", "--plan", "enterprise"},
			status: 200, resp: orgBody, method: "PATCH", path: "/api/operator/orgs/65a000000000000000000001", body: `{"plan":"enterprise"}`,
			out: []string{"enterprise"},
		},
		{
			name: "org update flags first", cmd: orgCommand, args: []string{"update", "--name", "acme2", "--plan", "pro", "65a000000000000000000001"},
			status: 200, resp: orgBody, method: "PATCH", path: "/api/operator/orgs/65a000000000000000000001", body: `{"name":"acme2","plan":"pro"}`,
		},
		{
			name: "org key named", cmd: orgCommand, args: []string{"key", "65a000000000000000000001", "--name", "ci"},
			status: 201, resp: keyBody, method: "POST", path: "/api/operator/orgs/65a000000000000000000001/keys", body: `{"name":"ci"}`,
			out: []string{"dakkio_a_OTHERKEYOTHERKEYOTHERKEYOTHERKEY", "only once"},
		},
		{
			name: "org key unnamed", cmd: orgCommand, args: []string{"key", "65a000000000000000000001"},
			status: 201, resp: keyBody, method: "POST", path: "/api/operator/orgs/65a000000000000000000001/keys", body: `{}`,
			out: []string{"dakkio_a_OTHERKEYOTHERKEYOTHERKEYOTHERKEY"},
		},
		{
			name: "org keys", cmd: orgCommand, args: []string{"keys", "65a000000000000000000001", "--limit", "5"},
			status: 200, resp: adminKeysBody, method: "GET", path: "/api/operator/orgs/65a000000000000000000001/keys", query: "limit=5",
			out: []string{"ID", "NAME", "PREFIX", "LAST USED", "65a000000000000000000003", "ci", "dakkio_a_OTH", "never", "2024-02-01T08:00:00Z"},
		},
		{
			name: "org revoke-key", cmd: orgCommand, args: []string{"revoke-key", "65a000000000000000000001", "65a000000000000000000003"},
			status: 200, resp: revokedKeyBody, method: "DELETE", path: "/api/operator/orgs/65a000000000000000000001/keys/65a000000000000000000003",
			out: []string{"revoked admin key 65a000000000000000000003 (ci)"},
		},
		{
			name: "operator rotate-token", cmd: operatorCommand, args: []string{"rotate-token"},
			status: 200, resp: tokenBody, method: "POST", path: "/api/operator/token",
			out: []string{"dakkio_op_NEWTOKENNEWTOKENNEWTOKENNEWTOKENNEWTOKEN", "only once"},
		},
		{
			name: "cluster status", cmd: clusterCommand, args: []string{"status"},
			status: 200, resp: clusterBody, method: "GET", path: "/api/operator/cluster",
			out: []string{"NODE", "HTTP", "RAFT", "STATE", "VOTER", "HEALTHY", "node2", "127.0.0.1:8301", "Follower",
				"Leader", "node1 (127.0.0.1:8300)", "42", "41", "40"},
		},
		{
			name: "cluster remove", cmd: clusterCommand, args: []string{"remove", "node3"},
			status: 200, resp: removedBody, method: "DELETE", path: "/api/operator/cluster/nodes/node3",
			out: []string{"removed node3"},
		},
		{
			name: "cluster remove escapes the id", cmd: clusterCommand, args: []string{"remove", "a b"},
			status: 200, resp: removedBody, method: "DELETE", path: "/api/operator/cluster/nodes/a b",
			out: []string{"removed a b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateOperatorEnv(t)
			f := newOpFake(t, tt.status, tt.resp)
			code, stdout, stderr := runOp(tt.cmd, append(tt.args, "--addr", f.srv.URL, "--token", "tok")...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			r := f.only(t)
			if r.Method != tt.method || r.Path != tt.path || r.Query != tt.query {
				t.Errorf("sent %s %s?%s, want %s %s?%s", r.Method, r.Path, r.Query, tt.method, tt.path, tt.query)
			}
			if r.Body != tt.body {
				t.Errorf("body = %s, want %s", r.Body, tt.body)
			}
			for _, s := range tt.out {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
		})
	}
}

func TestOperatorJSON(t *testing.T) {
	isolateOperatorEnv(t)
	f := newOpFake(t, 201, createdOrgBody)
	code, stdout, stderr := runOp(orgCommand, "create", "--name", "acme", "--json", "--addr", f.srv.URL, "--token", "t")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// The API's envelope, as every command prints with --json.
	var env struct {
		Data struct {
			Organization struct {
				ID string `json:"_id"`
			} `json:"organization"`
			AdminKey struct {
				Key string `json:"key"`
			} `json:"adminKey"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(stdout), &env); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	got := env.Data
	if got.Organization.ID != "65a000000000000000000001" || got.AdminKey.Key != "dakkio_a_SECRETSECRETSECRETSECRETSECRET12" {
		t.Errorf("decoded %+v", got)
	}
}

func TestOperatorUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		cmd  func([]string, io.Writer, io.Writer) int
		args []string
		want int
	}{
		{"org alone", orgCommand, nil, 2},
		{"org unknown", orgCommand, []string{"destroy"}, 2},
		{"org help", orgCommand, []string{"help"}, 0},
		{"create without name", orgCommand, []string{"create", "--plan", "pro"}, 2},
		{"create unknown flag", orgCommand, []string{"create", "--name", "a", "--colour", "red"}, 2},
		{"create extra argument", orgCommand, []string{"create", "--name", "a", "extra"}, 2},
		{"create help", orgCommand, []string{"create", "--help"}, 0},
		{"list bad limit", orgCommand, []string{"list", "--limit", "many"}, 2},
		{"update without id", orgCommand, []string{"update", "--plan", "pro"}, 2},
		{"update without fields", orgCommand, []string{"update", "65a000000000000000000001"}, 2},
		{"update two ids", orgCommand, []string{"update", "a", "b", "--plan", "pro"}, 2},
		{"key without id", orgCommand, []string{"key"}, 2},
		{"keys without id", orgCommand, []string{"keys"}, 2},
		{"revoke-key without key id", orgCommand, []string{"revoke-key", "65a000000000000000000001"}, 2},
		{"revoke-key three ids", orgCommand, []string{"revoke-key", "a", "b", "c"}, 2},
		{"operator alone", operatorCommand, nil, 2},
		{"operator unknown", operatorCommand, []string{"rotate"}, 2},
		{"operator help", operatorCommand, []string{"help"}, 0},
		{"rotate-token argument", operatorCommand, []string{"rotate-token", "now"}, 2},
		{"cluster alone", clusterCommand, nil, 2},
		{"cluster unknown", clusterCommand, []string{"explode"}, 2},
		{"cluster status argument", clusterCommand, []string{"status", "now"}, 2},
		{"cluster remove without id", clusterCommand, []string{"remove"}, 2},
		{"cluster remove two ids", clusterCommand, []string{"remove", "node2", "node3"}, 2},
		{"cluster remove help", clusterCommand, []string{"remove", "--help"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateOperatorEnv(t)
			f := newOpFake(t, 200, `{"data":{}}`)
			code, _, stderr := runOp(tt.cmd, append(tt.args, "--addr", f.srv.URL, "--token", "t")...)
			if code != tt.want {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.want, stderr)
			}
			if tt.want == 2 && !strings.Contains(stderr, "Usage") {
				t.Errorf("no usage on stderr: %q", stderr)
			}
			if f.count() != 0 {
				t.Errorf("sent %d requests", f.count())
			}
		})
	}
}

func TestOperatorAPIErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{
			name:   "validation with details",
			status: 400,
			body:   `{"error":"Validation Error","message":"Invalid request body","details":[{"path":["body","plan"],"message":"Invalid enum value"}]}`,
			want:   []string{"error: Validation Error: Invalid request body", "body.plan: Invalid enum value"},
		},
		{
			name:   "unauthorized",
			status: 401,
			body:   `{"error":"Unauthorized","message":"Invalid or missing operator token"}`,
			want:   []string{"error: Unauthorized: Invalid or missing operator token", "hint"},
		},
		{
			name:   "not an envelope",
			status: 502,
			body:   "bad gateway from proxy",
			want:   []string{"error: 502 Bad Gateway: bad gateway from proxy"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateOperatorEnv(t)
			f := newOpFake(t, tt.status, tt.body)
			code, stdout, stderr := runOp(orgCommand, "update", "65a000000000000000000001", "--plan", "gold", "--addr", f.srv.URL, "--token", "t")
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, s := range tt.want {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
	t.Run("unreachable node", func(t *testing.T) {
		isolateOperatorEnv(t)
		f := newOpFake(t, 200, "")
		f.srv.Close()
		code, _, stderr := runOp(clusterCommand, "status", "--addr", f.srv.URL, "--token", "t")
		if code != 1 || !strings.HasPrefix(stderr, "error: ") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

func TestOperatorBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://10.0.0.1:8080/": "http://10.0.0.1:8080",
		"https://dakkio.local":  "https://dakkio.local",
		"10.0.0.1:8080":         "http://10.0.0.1:8080",
		":9090":                 "http://127.0.0.1:9090",
	} {
		if got := operatorBaseURL(in); got != want {
			t.Errorf("operatorBaseURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// notLeaderBody is a node's 503 when only the leader can remove nodes.
const notLeaderBody = `{"error":"Service Unavailable","message":"Cannot remove the node here: this node is not the Raft leader; send this request to the leader at http://10.0.0.1:8080"}`

// leaderAt is the header of a 503 naming f as the leader.
func leaderAt(f *opFake) http.Header {
	return http.Header{"X-Dakkio-Leader": {f.srv.URL + "/"}}
}

// TestClusterRemoveFollowsTheLeader: a node that cannot remove nodes names
// the leader in a 503; the command sends the request there, with the same
// token, following at most two such answers (a follower naming the leader,
// then a leader asked to remove itself naming its successor).
func TestClusterRemoveFollowsTheLeader(t *testing.T) {
	t.Run("follower names the leader", func(t *testing.T) {
		isolateOperatorEnv(t)
		leader := newOpFake(t, 200, removedBody)
		follower := newOpFakeHeader(t, 503, notLeaderBody, leaderAt(leader))
		code, stdout, stderr := runOp(clusterCommand, "remove", "node3", "--addr", follower.srv.URL, "--token", "tok")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if stdout != "removed node3\n" {
			t.Errorf("stdout = %q", stdout)
		}
		if !strings.Contains(stderr, leader.srv.URL) {
			t.Errorf("stderr does not say where the request went: %q", stderr)
		}
		for name, f := range map[string]*opFake{"follower": follower, "leader": leader} {
			r := f.only(t)
			if r.Method != "DELETE" || r.Path != "/api/operator/cluster/nodes/node3" || r.Token != "tok" {
				t.Errorf("%s got %+v", name, r)
			}
		}
	})
	t.Run("two hops", func(t *testing.T) {
		isolateOperatorEnv(t)
		next := newOpFake(t, 200, removedBody)
		old := newOpFakeHeader(t, 503, notLeaderBody, leaderAt(next))
		follower := newOpFakeHeader(t, 503, notLeaderBody, leaderAt(old))
		code, stdout, stderr := runOp(clusterCommand, "remove", "node3", "--addr", follower.srv.URL, "--token", "tok", "--json")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		var got struct {
			Data map[string]string `json:"data"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Data["removedNode"] != "node3" {
			t.Errorf("stdout = %q (%v)", stdout, err)
		}
		follower.only(t)
		old.only(t)
		next.only(t)
	})
	t.Run("gives up after two hops", func(t *testing.T) {
		isolateOperatorEnv(t)
		last := newOpFake(t, 200, removedBody)
		c := newOpFakeHeader(t, 503, notLeaderBody, leaderAt(last))
		b := newOpFakeHeader(t, 503, notLeaderBody, leaderAt(c))
		a := newOpFakeHeader(t, 503, notLeaderBody, leaderAt(b))
		code, stdout, stderr := runOp(clusterCommand, "remove", "node3", "--addr", a.srv.URL, "--token", "tok")
		if code != 1 || stdout != "" || !strings.Contains(stderr, "error: Service Unavailable: Cannot remove the node here") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if a.count() != 1 || b.count() != 1 || c.count() != 1 || last.count() != 0 {
			t.Errorf("requests: %d, %d, %d, then %d", a.count(), b.count(), c.count(), last.count())
		}
	})

	noRetry := []struct {
		name   string
		status int
		body   string
		header func(self *opFake) http.Header
		want   string
	}{
		{"no leader known", 503, `{"error":"Service Unavailable","message":"Cannot remove the node here: this node is not the Raft leader; no leader is known now, retry later"}`,
			func(*opFake) http.Header { return nil }, "no leader is known now"},
		{"names itself", 503, notLeaderBody, leaderAt, "Service Unavailable"},
		{"not a URL", 503, notLeaderBody, func(*opFake) http.Header { return http.Header{"X-Dakkio-Leader": {"file:///etc/passwd"}} }, "Service Unavailable"},
		{"unknown node", 404, `{"error":"Not Found","message":"Node not found"}`, func(*opFake) http.Header { return nil }, "error: Not Found: Node not found"},
		{"leader header on another status", 409, `{"error":"Conflict","message":"Cannot remove the only voter of the cluster"}`,
			func(*opFake) http.Header { return http.Header{"X-Dakkio-Leader": {"http://127.0.0.1:1"}} }, "only voter"},
	}
	for _, tt := range noRetry {
		t.Run(tt.name, func(t *testing.T) {
			isolateOperatorEnv(t)
			// The header may name the fake itself, known once it runs.
			var f *opFake
			f = &opFake{}
			f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				f.mu.Lock()
				f.reqs = append(f.reqs, opRequest{Method: r.Method, Path: r.URL.Path})
				f.mu.Unlock()
				for k, vs := range tt.header(f) {
					w.Header()[k] = vs
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(f.srv.Close)
			code, stdout, stderr := runOp(clusterCommand, "remove", "node3", "--addr", f.srv.URL, "--token", "tok")
			if code != 1 || stdout != "" || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, tt.want)
			}
			f.only(t)
		})
	}
}
