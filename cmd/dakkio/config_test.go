package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testcert"
	"github.com/dakkio/dakkio/node"
)

// writeFile writes content into a file named name in a new temporary folder.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// envMap is a fake environment.
func envMap(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestServeSources: a flag is taken from the command line, else its
// environment variable, else the config file, else its default; TOML and
// YAML files set flags of every type by their names.
func TestServeSources(t *testing.T) {
	toml := writeFile(t, "dakkio.toml", `
http-addr = ":9001"
node-id = "file-node"
replication-factor = 2
sync-writes = true
join = ["10.0.0.1:7946", "10.0.0.2:7946"]
log-level = "warn"
`)
	yml := writeFile(t, "dakkio.yml", `
http-addr: ":9002"
node-id: file-node
replication-factor: 2
sync-writes: true
join: 10.0.0.1:7946,10.0.0.2:7946
log-level: warn
`)
	type want struct {
		httpAddr, nodeID, logLevel string
		rf                         int
		sync                       bool
		join                       []string
	}
	defaults := want{httpAddr: ":8080", nodeID: "node1", logLevel: "info", rf: 3}
	join := []string{"10.0.0.1:7946", "10.0.0.2:7946"}
	cases := []struct {
		name string
		args []string
		env  []string
		want want
	}{
		{"defaults", nil, nil, defaults},
		{"toml file", []string{"--config", toml}, nil, want{":9001", "file-node", "warn", 2, true, join}},
		{"yaml file", []string{"--config", yml}, nil, want{":9002", "file-node", "warn", 2, true, join}},
		{"file named by DAKKIO_CONFIG", nil, []string{"DAKKIO_CONFIG", toml}, want{":9001", "file-node", "warn", 2, true, join}},
		{"env over file", []string{"--config", toml},
			[]string{"DAKKIO_HTTP_ADDR", ":9100", "DAKKIO_REPLICATION_FACTOR", "1", "DAKKIO_SYNC_WRITES", "false", "DAKKIO_JOIN", "a:1"},
			want{":9100", "file-node", "warn", 1, false, []string{"a:1"}}},
		{"flag over env and file", []string{"--config", toml, "--http-addr", ":9200", "--sync-writes=false", "--replication-factor", "5"},
			[]string{"DAKKIO_HTTP_ADDR", ":9100", "DAKKIO_REPLICATION_FACTOR", "1"},
			want{":9200", "file-node", "warn", 5, false, join}},
		{"flag over DAKKIO_CONFIG", []string{"--config", yml}, []string{"DAKKIO_CONFIG", toml}, want{":9002", "file-node", "warn", 2, true, join}},
		{"env without file", nil, []string{"DAKKIO_NODE_ID", "env-node"}, want{":8080", "env-node", "info", 3, false, nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, help, err := parseServe(c.args, envMap(c.env...), io.Discard)
			if err != nil || help {
				t.Fatalf("parse: %v (help %v)", err, help)
			}
			got := want{o.cfg.HTTPAddr, o.cfg.NodeID, o.logLevel, o.cfg.ReplicationFactor, o.cfg.SyncWrites, o.cfg.Join}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// TestServeSourceErrors: a config file or variable that cannot be used
// stops serve with an error naming what is wrong.
func TestServeSourceErrors(t *testing.T) {
	cases := []struct {
		name    string
		file    string // name and content, separated by the first newline
		env     []string
		wantErr []string
	}{
		{"unknown key", "c.toml\nhttp-addr = \":1\"\nlisten = \":2\"", nil, []string{`unknown key "listen"`, "c.toml"}},
		{"underscores", "c.yaml\nhttp_addr: \":1\"", nil, []string{`unknown key "http_addr"`, `did you mean "http-addr"`}},
		{"config in the file", "c.toml\nconfig = \"other.toml\"", nil, []string{`unknown key "config"`}},
		{"section", "c.toml\n[tls]\ncert = \"x\"", nil, []string{`unknown key "tls"`}},
		{"string for an integer", "c.toml\nreplication-factor = \"3\"", nil, []string{`key "replication-factor"`, "is a string, want an integer"}},
		{"fraction for an integer", "c.yaml\nreplication-factor: 2.5", nil, []string{`key "replication-factor"`, "want an integer"}},
		{"number for a string", "c.yaml\nhttp-addr: 8080", nil, []string{`key "http-addr"`, "is a number, want a string"}},
		{"string for a boolean", "c.toml\nsync-writes = \"yes\"", nil, []string{`key "sync-writes"`, "want true or false"}},
		{"list of numbers", "c.toml\njoin = [1, 2]", nil, []string{`key "join"`, "item 0"}},
		{"TOML syntax", "c.toml\nhttp-addr = ", nil, []string{"c.toml"}},
		{"YAML syntax", "c.yml\nhttp-addr: [", nil, []string{"c.yml"}},
		{"unknown format", "c.json\n{}", nil, []string{`unknown format ".json"`}},
		{"bad environment value", "", []string{"DAKKIO_REPLICATION_FACTOR", "three"}, []string{"DAKKIO_REPLICATION_FACTOR", `"three"`}},
		{"missing file", "", []string{"DAKKIO_CONFIG", "/nonexistent/dakkio.toml"}, []string{"cannot read config file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var args []string
			if c.file != "" {
				name, content, _ := strings.Cut(c.file, "\n")
				args = []string{"--config", writeFile(t, name, content)}
			}
			_, _, err := parseServe(args, envMap(c.env...), io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestServeHelpListsEveryFlag: --help names every flag with its variable
// and says which source wins.
func TestServeHelpListsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if code := serveCommand([]string{"--help"}, io.Discard, &out); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	help := out.String()
	fs, _ := serveFlags(io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(help, "-"+f.Name+" ") && !strings.Contains(help, "-"+f.Name+"\n") {
			t.Errorf("--help does not list -%s", f.Name)
		}
		if !strings.Contains(help, "(env "+envName(f.Name)+")") {
			t.Errorf("--help does not name %s", envName(f.Name))
		}
	})
	for _, w := range []string{"command line", "environment", "--config file", "default", "DAKKIO_INITIAL_ADMIN_KEY"} {
		if !strings.Contains(help, w) {
			t.Errorf("--help does not mention %q", w)
		}
	}
	if t.Failed() {
		t.Log(help)
	}
}

// TestServeConfigFileProcess: the binary started with --config takes its
// addresses, organization and TLS certificate from the file, and an
// environment variable still wins over the file.
func TestServeConfigFileProcess(t *testing.T) {
	bin := dakkioBinary(t)
	ca := testcert.NewCA(t, "test CA")
	certs := ca.WriteFiles(t, t.TempDir(), "node", "127.0.0.1")
	dataDir := t.TempDir()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	var s *server
	var lastOut string
	for attempt := range 5 {
		httpAddr, raftAddr := freeAddr(t), freeAddr(t)
		path := writeFile(t, "dakkio.toml", fmt.Sprintf(`
node-id = "from-file"
data-dir = %q
http-addr = %q
raft-addr = %q
initial-org = "file-org"
tls-cert = %q
tls-key = %q
tls-ca = %q
`, dataDir, httpAddr, raftAddr, certs.Cert, certs.Key, certs.CA))
		s = &server{
			t: t, name: fmt.Sprintf("serve --config (attempt %d)", attempt+1), dataDir: dataDir,
			env:      []string{"DAKKIO_NODE_ID=from-env"},
			httpAddr: httpAddr, raftAddr: raftAddr, url: "https://" + httpAddr,
			out: &syncBuffer{}, done: make(chan struct{}),
			hc: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		}
		s.spawn(bin, []string{"serve", "--config", path})
		err := s.waitReady()
		if err == nil {
			break
		}
		lastOut = s.out.String()
		if !strings.Contains(lastOut, "address already in use") {
			t.Fatalf("%s did not become ready over HTTPS: %v", s.name, err)
		}
		s.stop()
		s = nil
	}
	if s == nil {
		t.Fatalf("could not find free ports; last output:\n%s", lastOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	op := s.operator(string(bytes.TrimSpace(credFile(t, dataDir, node.OperatorTokenFile))))
	orgs, err := op.ListOrgs(ctx, client.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs.Data) != 1 || orgs.Data[0].Name != "file-org" {
		t.Fatalf("organizations %+v, want the file's file-org", orgs.Data)
	}
	st, err := op.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.NodeID != "from-env" {
		t.Fatalf("node id %q, want from-env (DAKKIO_NODE_ID wins over the file)", st.NodeID)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + s.httpAddr + "/health"); err == nil {
		resp.Body.Close()
		t.Fatalf("plain HTTP answered %d", resp.StatusCode)
	}
}
