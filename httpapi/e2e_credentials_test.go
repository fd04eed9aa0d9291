package httpapi_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

var adminKeyFields = []string{"_id", "name", "type", "keyPrefix", "organizationId", "createdAt", "lastUsedAt"}

// TestE2EAdminKeys: the operator lists an organization's admin keys without
// their secrets and revokes one: it is refused at once, the others keep
// working, and no organization reaches another's keys.
func TestE2EAdminKeys(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	orgA, keyA1 := mkOrg(t, n, unique("keys-a"))
	orgB, keyB := mkOrg(t, n, unique("keys-b"))
	second := dataObj(t, asOperator(t, n, "POST", "/api/operator/orgs/"+orgA+"/keys", obj{"name": "ci"}), http.StatusCreated)
	keyA2, keyA2ID := second["key"].(string), second["_id"].(string)
	// The first key is used once, the second never.
	wantList(t, asKey(t, n, keyA1, "GET", "/api/buckets", nil))
	bucketB := mkBucket(t, n, keyB, obj{"name": unique("b")})["_id"].(string)
	writeBID, _ := mkKey(t, n, keyB, bucketB, "write")

	keysPath := "/api/operator/orgs/" + orgA + "/keys"
	var keyA1ID string
	t.Run("list", func(t *testing.T) {
		r := asOperator(t, n, "GET", keysPath, nil)
		items, p := wantList(t, r)
		if p != (pagination{Limit: 100, Total: 2}) {
			t.Errorf("pagination = %+v", p)
		}
		if len(items) != 2 {
			t.Fatalf("items = %v, want the organization's two admin keys", items)
		}
		for _, it := range items {
			wantFields(t, "admin key", it, adminKeyFields...)
			wantID(t, it, "_id")
			wantTime(t, it, "createdAt")
			wantValues(t, "admin key", it, obj{"type": "admin", "organizationId": orgA})
		}
		keyA1ID = items[0]["_id"].(string)
		wantValues(t, "first key", items[0], obj{"name": "admin", "keyPrefix": keyA1[:12]})
		wantTime(t, items[0], "lastUsedAt")
		wantValues(t, "second key", items[1], obj{"_id": keyA2ID, "name": "ci", "keyPrefix": keyA2[:12], "lastUsedAt": nil})
		for _, s := range []string{keyA1, keyA2, secret.Hash(keyA1), secret.Hash(keyA2), `"hash"`, `"key"`} {
			if strings.Contains(string(r.Body), s) {
				t.Errorf("the list shows %s: %s", s, r.Body)
			}
		}
		items, p = wantList(t, asOperator(t, n, "GET", keysPath+"?limit=1&offset=1", nil))
		if p != (pagination{Limit: 1, Offset: 1, Total: 2}) || len(items) != 1 || items[0]["_id"] != keyA2ID {
			t.Errorf("second page = %v %+v", items, p)
		}
		items, _ = wantList(t, asOperator(t, n, "GET", "/api/operator/orgs/"+orgB+"/keys", nil))
		if len(items) != 1 || items[0]["organizationId"] != orgB || items[0]["keyPrefix"] != keyB[:12] {
			t.Errorf("organization B lists %v, want only its own admin key", items)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		got := dataObj(t, asOperator(t, n, "DELETE", keysPath+"/"+keyA2ID, nil), http.StatusOK)
		wantFields(t, "revoke answer", got, "deletedKey")
		wantValues(t, "deleted key", got["deletedKey"].(obj), obj{"_id": keyA2ID, "name": "ci", "type": "admin"})
		wantError(t, asKey(t, n, keyA2, "GET", "/api/buckets", nil), http.StatusUnauthorized, "Unauthorized", "Invalid or missing API key")
		wantList(t, asKey(t, n, keyA1, "GET", "/api/buckets", nil))
		items, p := wantList(t, asOperator(t, n, "GET", keysPath, nil))
		if p.Total != 1 || len(items) != 1 || items[0]["_id"] != keyA1ID {
			t.Errorf("after the revoke the list is %v", items)
		}
		wantError(t, asOperator(t, n, "DELETE", keysPath+"/"+keyA2ID, nil), http.StatusNotFound, "Not Found", "API key not found")
	})

	t.Run("other organizations", func(t *testing.T) {
		tests := []struct {
			name, path string
		}{
			{"B's admin key through A", keysPath + "/" + adminKeyID(t, n, orgB)},
			{"a bucket key of B through B", "/api/operator/orgs/" + orgB + "/keys/" + writeBID},
			{"unknown key", keysPath + "/0123456789abcdef01234567"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, asOperator(t, n, "DELETE", tt.path, nil), http.StatusNotFound, "Not Found", "API key not found")
			})
		}
		wantList(t, asKey(t, n, keyB, "GET", "/api/buckets", nil))
	})

	t.Run("bad ids", func(t *testing.T) {
		tests := []struct {
			name, method, path string
			status             int
			typ, msg           string
		}{
			{"list, unknown org", "GET", "/api/operator/orgs/0123456789abcdef01234567/keys", 404, "Not Found", "Organization not found"},
			{"revoke, unknown org", "DELETE", "/api/operator/orgs/0123456789abcdef01234567/keys/" + keyA1ID, 404, "Not Found", "Organization not found"},
			{"list, malformed org", "GET", "/api/operator/orgs/acme/keys", 400, "Validation Error", "Invalid organization ID format"},
			{"revoke, malformed org", "DELETE", "/api/operator/orgs/acme/keys/" + keyA1ID, 400, "Validation Error", "Invalid organization ID format"},
			{"revoke, malformed key", "DELETE", keysPath + "/k1", 400, "Validation Error", "Invalid API key ID format"},
			{"list, bad limit", "GET", keysPath + "?limit=0", 400, "", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := asOperator(t, n, tt.method, tt.path, nil)
				if tt.typ == "" {
					if r.StatusCode != tt.status {
						t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, r.Body)
					}
					return
				}
				wantError(t, r, tt.status, tt.typ, tt.msg)
			})
		}
		wantList(t, asKey(t, n, keyA1, "GET", "/api/buckets", nil))
	})

	t.Run("an admin key cannot manage admin keys", func(t *testing.T) {
		r := send(t, client.New(n.URL), "GET", keysPath, nil, http.Header{"X-Operator-Token": {keyA1}})
		wantError(t, r, http.StatusUnauthorized, "Unauthorized", "Invalid or missing operator token")
	})
}

// adminKeyID returns the id of an organization's first admin key.
func adminKeyID(t testing.TB, n *testnode.Node, orgID string) string {
	t.Helper()
	items, _ := wantList(t, asOperator(t, n, "GET", "/api/operator/orgs/"+orgID+"/keys", nil))
	if len(items) == 0 {
		t.Fatalf("organization %s has no admin key", orgID)
	}
	return items[0]["_id"].(string)
}

var operatorTokenRE = regexp.MustCompile(`^dakkio_op_[A-Za-z0-9]{40}$`)

// rotate rotates the operator token with token and returns the new one.
func rotate(t testing.TB, n *testnode.Node, token string) string {
	t.Helper()
	r := send(t, n.Operator.WithOperatorToken(token), "POST", "/api/operator/token", nil, nil)
	got := dataObj(t, r, http.StatusOK)
	wantFields(t, "rotate answer", got, "token")
	tok, _ := got["token"].(string)
	if !operatorTokenRE.MatchString(tok) {
		t.Fatalf("new token %q, want dakkio_op_ and 40 letters and digits", tok)
	}
	return tok
}

// wantOperator checks that every operator endpoint answers token with
// status (200 or 401), without changing anything.
func wantOperator(t testing.TB, n *testnode.Node, token string, status int) {
	t.Helper()
	c := n.Operator.WithOperatorToken(token)
	for _, path := range []string{"/api/operator/orgs", "/api/operator/cluster", "/api/operator/orgs/" + adminOrgID(t, n) + "/keys"} {
		r := send(t, c, "GET", path, nil, nil)
		if status == http.StatusUnauthorized {
			wantError(t, r, status, "Unauthorized", "Invalid or missing operator token")
			continue
		}
		if r.StatusCode != status {
			t.Fatalf("GET %s: status %d, want %d: %s", path, r.StatusCode, status, r.Body)
		}
	}
}

// adminOrgID returns the id of the organization of the node's admin key.
func adminOrgID(t testing.TB, n *testnode.Node) string {
	t.Helper()
	items, _ := wantList(t, asKey(t, n, n.AdminKey, "GET", "/api/buckets?limit=1", nil))
	if len(items) > 0 {
		return items[0]["organizationId"].(string)
	}
	ov := dataObj(t, asKey(t, n, n.AdminKey, "GET", "/api/analytics/overview", nil), http.StatusOK)
	return ov["organization"].(obj)["_id"].(string)
}

// TestE2ERotateOperatorToken: the old token is refused by every operator
// endpoint from the answer on, the new one works, and the token file the
// node wrote at first start now holds the new token (mode 0600), so an
// answer lost on its way does not lock the operator out.
func TestE2ERotateOperatorToken(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t, func(c *node.Config) { c.OperatorToken = "" })
	tokenFile := filepath.Join(n.Config.DataDir, node.OperatorTokenFile)
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatalf("first start wrote no token file: %v", err)
	}
	first := strings.TrimSpace(string(b))
	wantOperator(t, n, first, http.StatusOK)

	second := rotate(t, n, first)
	if second == first {
		t.Fatal("rotation returned the same token")
	}
	wantOperator(t, n, first, http.StatusUnauthorized)
	wantOperator(t, n, second, http.StatusOK)
	if b, err := os.ReadFile(tokenFile); err != nil || strings.TrimSpace(string(b)) != second {
		t.Errorf("after the rotation the token file holds %q (%v), want the new token", b, err)
	}
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode: %v (%v), want 0600", fi.Mode(), err)
	}
	r := send(t, n.Operator.WithOperatorToken(first), "POST", "/api/operator/token", nil, nil)
	wantError(t, r, http.StatusUnauthorized, "Unauthorized", "Invalid or missing operator token")

	third := rotate(t, n, second)
	wantOperator(t, n, second, http.StatusUnauthorized)
	wantOperator(t, n, first, http.StatusUnauthorized)
	wantOperator(t, n, third, http.StatusOK)
	// API keys are not touched by a rotation.
	wantList(t, asKey(t, n, n.AdminKey, "GET", "/api/buckets", nil))
}

// TestE2ERotateRefusedWhenTokenCannotBeSaved: a node that cannot write the
// new token where the operator will find it refuses the rotation rather
// than apply a token nobody may ever see; the old token keeps working.
func TestE2ERotateRefusedWhenTokenCannotBeSaved(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	// A directory where the token's temporary file goes: the write fails.
	if err := os.Mkdir(filepath.Join(n.Config.DataDir, node.OperatorTokenFile+".tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	r := send(t, n.Operator, "POST", "/api/operator/token", nil, nil)
	wantError(t, r, http.StatusInternalServerError, "Internal Server Error", "An internal error occurred")
	wantOperator(t, n, n.OperatorToken, http.StatusOK)
}

// logBuffer is an io.Writer for a slog handler that tests read while the
// node writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestE2ECredentialsSurviveRestart: a rotated operator token and a revoked
// admin key stay so after a restart, and the DAKKIO_OPERATOR_TOKEN a node
// is restarted with (Config.OperatorToken) is ignored, with a warning,
// when it is not the cluster's token.
func TestE2ECredentialsSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	adminKey, firstToken := secret.New(secret.AdminPrefix), secret.New(secret.OperatorPrefix)
	start := func(token string) (*testnode.Node, *logBuffer) {
		logs := &logBuffer{}
		n := testnode.Start(t, func(c *node.Config) {
			c.DataDir, c.InitialAdminKey, c.OperatorToken = dir, adminKey, token
			c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		})
		return n, logs
	}
	const ignored = "DAKKIO_OPERATOR_TOKEN is ignored"

	n, logs := start(firstToken)
	if strings.Contains(logs.String(), ignored) {
		t.Errorf("the first start warns that its token is ignored:\n%s", logs)
	}
	orgID := adminOrgID(t, n)
	extra := dataObj(t, asOperator(t, n, "POST", "/api/operator/orgs/"+orgID+"/keys", obj{"name": "to-revoke"}), http.StatusCreated)
	dataObj(t, asOperator(t, n, "DELETE", "/api/operator/orgs/"+orgID+"/keys/"+extra["_id"].(string), nil), http.StatusOK)
	rotated := rotate(t, n, firstToken)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, token string
		warn        bool
	}{
		{"restarted with the first token", firstToken, true},
		{"restarted with another token", secret.New(secret.OperatorPrefix), true},
		{"restarted with the current token", rotated, false},
		{"restarted without a token", "", false},
	} {
		n, logs := start(tt.token)
		if got := strings.Contains(logs.String(), ignored); got != tt.warn {
			t.Errorf("%s: warning logged = %v, want %v; log:\n%s", tt.name, got, tt.warn, logs)
		}
		if tt.token != "" && tt.token != rotated {
			wantOperator(t, n, tt.token, http.StatusUnauthorized)
		}
		wantOperator(t, n, firstToken, http.StatusUnauthorized)
		wantOperator(t, n, rotated, http.StatusOK)
		wantError(t, asKey(t, n, extra["key"].(string), "GET", "/api/buckets", nil), http.StatusUnauthorized, "Unauthorized", "Invalid or missing API key")
		wantList(t, asKey(t, n, adminKey, "GET", "/api/buckets", nil))
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
