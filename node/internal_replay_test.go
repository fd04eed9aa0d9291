package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/testnode"
)

// sendInternal posts to a node's internal route with the given signature
// header and returns the status and the envelope's error and message.
func sendInternal(t *testing.T, n *testnode.Node, target, header string) (int, string) {
	t.Helper()
	return sendInternalTo(t, n.URL, target, header)
}

func sendInternalTo(t *testing.T, baseURL, target, header string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+target, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(nodeauth.HeaderName, header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	var env struct{ Error, Message string }
	if err := json.Unmarshal(body, &env); err != nil || env.Error == "" || env.Message == "" {
		t.Fatalf("status %d with %q, not the error envelope", resp.StatusCode, body)
	}
	return resp.StatusCode, env.Error + ": " + env.Message
}

// signedFor is the header a node puts on a call to target.
func signedFor(t *testing.T, n *testnode.Node, target string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, n.URL+target, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	nodeauth.SignRequest(nodeauth.DeriveKey(n.Config.ClusterKey, nodeauth.PurposeRPC), req, nil, time.Now())
	return req.Header.Get(nodeauth.HeaderName)
}

// TestInternalCallReplayedIsRefused: a signed node call, captured and sent
// again unchanged within the signature's window, is refused with 401.
func TestInternalCallReplayedIsRefused(t *testing.T) {
	n := testnode.StartCluster(t, 1)[0]
	const target = "/internal/readindex"
	captured := signedFor(t, n, target)
	if status, msg := sendInternal(t, n, target, captured); status != http.StatusOK {
		t.Fatalf("the genuine call: %d %s, want 200", status, msg)
	}
	status, msg := sendInternal(t, n, target, captured)
	if status != http.StatusUnauthorized {
		t.Fatalf("the same call replayed: %d %s, want 401", status, msg)
	}
	t.Logf("replay refused: %s", msg)
	// A fresh signature of the same call passes: retries are signed anew.
	if status, msg := sendInternal(t, n, target, signedFor(t, n, target)); status != http.StatusOK {
		t.Fatalf("the call signed again: %d %s, want 200", status, msg)
	}
}

// TestInternalSignatureCoversTheQuery: the signature of a node call covers
// its query string; a query added, changed or dropped is refused.
func TestInternalSignatureCoversTheQuery(t *testing.T) {
	n := testnode.StartCluster(t, 1)[0]
	tests := []struct {
		name           string
		signed, sentTo string
		want           int
	}{
		{"query signed and sent", "/internal/readindex?trace=1", "/internal/readindex?trace=1", http.StatusOK},
		{"empty query is no query", "/internal/readindex", "/internal/readindex?", http.StatusOK},
		{"query added", "/internal/readindex", "/internal/readindex?trace=1", http.StatusUnauthorized},
		{"query changed", "/internal/readindex?trace=1", "/internal/readindex?trace=2", http.StatusUnauthorized},
		{"query extended", "/internal/readindex?trace=1", "/internal/readindex?trace=1&x=2", http.StatusUnauthorized},
		{"query dropped", "/internal/readindex?trace=1", "/internal/readindex", http.StatusUnauthorized},
		{"path spelled otherwise", "/internal/readindex", "/internal/./readindex", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, msg := sendInternal(t, n, tt.sentTo, signedFor(t, n, tt.signed)); status != tt.want {
				t.Fatalf("signed for %s, sent to %s: %d %s, want %d", tt.signed, tt.sentTo, status, msg, tt.want)
			}
		})
	}
}

// TestInternalCallCapturedBeforeARestartIsRefused: a restarted node has
// forgotten the nonces it saw, so a call captured before the restart,
// though still inside its signature's window, is refused with 401.
func TestInternalCallCapturedBeforeARestartIsRefused(t *testing.T) {
	n := testnode.StartCluster(t, 1)[0]
	const target = "/internal/readindex"
	signedAt := time.Now()
	captured := signedFor(t, n, target)
	if status, msg := sendInternal(t, n, target, captured); status != http.StatusOK {
		t.Fatalf("the genuine call: %d %s, want 200", status, msg)
	}
	cfg := n.Config
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = n.HTTPAddr(), n.RaftAddr(), n.GossipAddr()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// Signatures have one-second resolution: restart in a later second
	// than the capture's, as a real restart does.
	eventually(t, "the clock passes the capture's second", func() error {
		if time.Now().Unix() <= signedAt.Unix() {
			return fmt.Errorf("still %d", signedAt.Unix())
		}
		return nil
	})
	base := testnode.StartWith(t, cfg).URL
	eventually(t, "the restarted node takes fresh calls", func() error {
		if status, msg := sendInternalTo(t, base, target, signedFor(t, n, target)); status != http.StatusOK {
			return fmt.Errorf("%d %s", status, msg)
		}
		return nil
	})
	if d := time.Since(signedAt); d >= 25*time.Second {
		t.Skipf("the restart took %s, too close to the signature window to tell", d)
	}
	if status, msg := sendInternalTo(t, base, target, captured); status != http.StatusUnauthorized {
		t.Fatalf("the call captured before the restart, replayed after: %d %s, want 401", status, msg)
	}
}
