package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/node"
)

// cli runs the dakkio command in this process and returns its exit code
// and output.
func cli(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestOperatorCredentialsProcess: against a real node started with random
// credentials (written to its data dir), 'org keys' lists the admin keys
// without secrets, 'org revoke-key' revokes one, and 'operator
// rotate-token' replaces the operator token: the node deletes the token
// file, the old token is refused, the new one works, and a restart with
// the old token in DAKKIO_OPERATOR_TOKEN keeps the new one and says that
// the variable is ignored.
func TestOperatorCredentialsProcess(t *testing.T) {
	// The CLI in this process reads these; the child never sees them.
	t.Setenv("DAKKIO_OPERATOR_TOKEN", "")
	t.Setenv("DAKKIO_ADDR", "")
	dir := t.TempDir()
	s := startServer(t, "first start", dir, nil, nil)
	ctx := testCtx(t)
	oldToken := strings.TrimSpace(string(credFile(t, dir, node.OperatorTokenFile)))
	adminKey := strings.TrimSpace(string(credFile(t, dir, node.InitialAdminKeyFile)))
	orgs := must[*client.List[client.Org]](t, "list orgs")(s.operator(oldToken).ListOrgs(ctx, client.Page{}))
	orgID := orgs.Data[0].ID
	base := []string{"--addr", s.url, "--data-dir", dir}

	code, stdout, stderr := cli(append([]string{"org", "key", orgID, "--name", "ci", "--json"}, base...)...)
	if code != 0 {
		t.Fatalf("org key: exit %d, stderr %q", code, stderr)
	}
	var created struct {
		Data client.CreatedKey `json:"data"`
	}
	if err := json.Unmarshal([]byte(stdout), &created); err != nil {
		t.Fatalf("org key --json: %v: %s", err, stdout)
	}
	ci := created.Data

	code, stdout, stderr = cli(append([]string{"org", "keys", orgID}, base...)...)
	if code != 0 {
		t.Fatalf("org keys: exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"initial admin key", adminKey[:12], "ci", ci.ID, ci.KeyPrefix, "never"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("org keys lacks %q:\n%s", want, stdout)
		}
	}
	for _, secret := range []string{adminKey, ci.Key} {
		if strings.Contains(stdout, secret) {
			t.Errorf("org keys shows a whole key:\n%s", stdout)
		}
	}

	code, stdout, stderr = cli(append([]string{"org", "revoke-key", orgID, ci.ID}, base...)...)
	if code != 0 || !strings.Contains(stdout, "revoked admin key "+ci.ID) {
		t.Fatalf("org revoke-key: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	_, err := s.client(ci.Key).ListBuckets(ctx, client.Page{})
	wantStatus(t, "the revoked key", err, http.StatusUnauthorized)
	must[*client.List[client.Bucket]](t, "the initial admin key")(s.client(adminKey).ListBuckets(ctx, client.Page{}))
	code, _, stderr = cli(append([]string{"org", "revoke-key", orgID, ci.ID}, base...)...)
	if code != 1 || !strings.Contains(stderr, "API key not found") {
		t.Errorf("revoking again: exit %d, stderr %q; want 1 and not found", code, stderr)
	}

	code, stdout, stderr = cli(append([]string{"operator", "rotate-token", "--json"}, base...)...)
	if code != 0 {
		t.Fatalf("operator rotate-token: exit %d, stderr %q", code, stderr)
	}
	var rotatedEnv struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	err = json.Unmarshal([]byte(stdout), &rotatedEnv)
	rotated := rotatedEnv.Data
	if err != nil || !strings.HasPrefix(rotated.Token, "dakkio_op_") || rotated.Token == oldToken {
		t.Fatalf("rotate-token --json printed %q (%v)", stdout, err)
	}
	if got := strings.TrimSpace(string(credFile(t, dir, node.OperatorTokenFile))); got != rotated.Token {
		t.Errorf("after the rotation the token file holds %q, want the new token %q", got, rotated.Token)
	}
	// The command finds the new token in the file; the old one is
	// refused with the hint.
	if code, _, stderr := cli(append([]string{"org", "keys", orgID}, base...)...); code != 0 {
		t.Errorf("org keys with the token from the file: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := cli("org", "keys", orgID, "--addr", s.url, "--token", oldToken); code != 1 || !strings.Contains(stderr, "hint: the node refused the operator token") {
		t.Errorf("org keys with the old token: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := cli("org", "keys", orgID, "--addr", s.url, "--token", rotated.Token); code != 0 {
		t.Errorf("org keys with the new token: exit %d, stderr %q", code, stderr)
	}

	s.signal(syscall.SIGTERM, 30*time.Second)
	s = startServer(t, "restart with the old token", dir, []string{"DAKKIO_OPERATOR_TOKEN=" + oldToken}, s)
	_, err = s.operator(oldToken).ListOrgs(ctx, client.Page{})
	wantStatus(t, "the old token after the restart", err, http.StatusUnauthorized)
	must[*client.List[client.Org]](t, "the new token after the restart")(s.operator(rotated.Token).ListOrgs(ctx, client.Page{}))
	eventuallyCtx(t, ctx, "the node says DAKKIO_OPERATOR_TOKEN is ignored", func() error {
		if !strings.Contains(s.out.String(), "DAKKIO_OPERATOR_TOKEN is ignored") {
			return errors.New("no such line in its output yet")
		}
		return nil
	})
}
