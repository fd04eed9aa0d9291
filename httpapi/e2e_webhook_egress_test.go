package httpapi_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakkio/dakkio/node"
)

// The webhook egress policy, end to end: refused literal addresses at
// creation, names refused when dialled, redirects not followed into refused
// addresses, and what bucket keys see of rules and deliveries.

// defaultEgress gives a test node the default webhook policy (testnode
// allows loopback, where the tests' receivers listen).
func defaultEgress(cfg *node.Config) { cfg.WebhookAllowCIDRs = nil }

// hitCounter is a webhook endpoint that counts its requests and answers
// status, or redirects to location with a 307 (which keeps the POST).
type hitCounter struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newHitCounter(t *testing.T, listenAddr string, status int, location string) *hitCounter {
	t.Helper()
	h := &hitCounter{}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		if location != "" {
			http.Redirect(w, r, location, http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(status)
	}))
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		t.Fatalf("cannot listen on %s: %v", listenAddr, err)
	}
	h.srv.Listener.Close()
	h.srv.Listener = ln
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hitCounter) port() string {
	_, p, _ := net.SplitHostPort(h.srv.Listener.Addr().String())
	return p
}

// fire creates a rule on url and writes a point that triggers it; it
// returns the rule's id.
func (e alertEnv) fire(t *testing.T, url string) string {
	t.Helper()
	id := e.create(t, obj{"webhookUrl": url, "cooldownMinutes": 0})["_id"].(string)
	e.write(t, e.srcID, time.Time{}, obj{"temperature": 99.0})
	e.wantEventCount(t, id, 1)
	return id
}

// settled waits until the delivery of the rule's newest event is finished,
// checks it ended in state and returns it as the admin key sees it.
func (e alertEnv) settled(t *testing.T, id string, state string) obj {
	t.Helper()
	var d obj
	eventually(t, "the delivery of rule "+id+" to finish", func() bool {
		d = e.events(t, id)[0]["delivery"].(obj)
		return d["state"] != "pending"
	})
	if d["state"] != state {
		t.Fatalf("delivery = %v, want state %q", d, state)
	}
	return d
}

func TestE2EWebhookEgressRefusesLiteralAddresses(t *testing.T) {
	t.Parallel()
	n, _ := alertNode(t, defaultEgress)
	env := newAlertEnv(t, n)
	refused := []struct{ url, why string }{
		{"http://127.0.0.1:9/hook", "is in 127.0.0.0/8"},
		{"http://127.1.2.3/hook", "is in 127.0.0.0/8"},
		{"http://[::1]:8080/", "is in ::1/128"},
		{"http://169.254.169.254/latest/meta-data/", "is in 169.254.0.0/16"},
		{"https://[fe80::1]/", "is in fe80::/10"},
		{"http://0.0.0.0:8080/", "is in 0.0.0.0/8"},
		{"http://[::]/", "is in ::/128"},
		{"http://[::ffff:127.0.0.1]/", "is in 127.0.0.0/8"},
		{"http://[::ffff:169.254.169.254]/", "is in 169.254.0.0/16"},
	}
	for _, c := range refused {
		t.Run("create "+c.url, func(t *testing.T) {
			r := asKey(t, n, env.writeKey, "POST", "/api/alerts", env.rule(obj{"webhookUrl": c.url}))
			details := wantError(t, r, http.StatusBadRequest, "Validation Error", "Invalid request body")
			wantDetail(t, details, "webhookUrl is blocked by egress policy", "body", "webhookUrl")
			wantDetail(t, details, c.why, "body", "webhookUrl")
		})
	}

	a := env.create(t, nil)
	path := "/api/alerts/" + a["_id"].(string)
	for _, c := range refused {
		t.Run("patch "+c.url, func(t *testing.T) {
			r := asKey(t, n, env.writeKey, "PATCH", path, obj{"webhookUrl": c.url, "name": "renamed"})
			details := wantError(t, r, http.StatusBadRequest, "Validation Error", "Invalid request body")
			wantDetail(t, details, "webhookUrl is blocked by egress policy", "body", "webhookUrl")
			if got := env.get(t, a["_id"].(string)); got["webhookUrl"] != a["webhookUrl"] || got["name"] != a["name"] {
				t.Errorf("refused PATCH changed the rule: %v", got)
			}
		})
	}

	t.Run("names and public addresses are accepted", func(t *testing.T) {
		for _, u := range []string{"http://localhost:9/hook", "https://example.com/hook", "http://93.184.216.34/hook", "http://10.0.0.5:8080/hook"} {
			dataObj(t, asKey(t, n, env.writeKey, "POST", "/api/alerts", env.rule(obj{"webhookUrl": u})), http.StatusCreated)
		}
	})
}

// An allowed range does not lift the node's own ports.
func TestE2EWebhookEgressRefusesOwnPorts(t *testing.T) {
	t.Parallel()
	n, _ := alertNode(t) // loopback allowed
	env := newAlertEnv(t, n)
	_, httpPort, _ := net.SplitHostPort(n.HTTPAddr())
	_, raftPort, _ := net.SplitHostPort(n.RaftAddr())
	for _, u := range []string{"http://127.0.0.1:" + httpPort + "/api/health", "http://127.0.0.2:" + raftPort + "/"} {
		r := asKey(t, n, env.writeKey, "POST", "/api/alerts", env.rule(obj{"webhookUrl": u}))
		details := wantError(t, r, http.StatusBadRequest, "Validation Error", "Invalid request body")
		wantDetail(t, details, "is a port of this node", "body", "webhookUrl")
	}
	// A name reaching the node's port is refused when dialled.
	id := env.fire(t, "http://localhost:"+httpPort+"/api/health")
	d := env.settled(t, id, "blocked")
	if msg, _ := d["lastError"].(string); !strings.Contains(msg, "is a port of this node") {
		t.Errorf("lastError = %q, want the node's port named", msg)
	}
}

// A name is checked once resolved: "localhost" passes creation, but its
// delivery is blocked when dialled, never reaches the receiver, and is not
// retried.
func TestE2EWebhookEgressBlocksNamesWhenDialled(t *testing.T) {
	t.Parallel()
	n, _ := alertNode(t, defaultEgress)
	env := newAlertEnv(t, n)
	hook := newHitCounter(t, "127.0.0.1:0", http.StatusOK, "")
	id := env.fire(t, "http://localhost:"+hook.port()+"/hook?token=s3cret")

	d := env.settled(t, id, "blocked")
	wantValues(t, "delivery", d, obj{"attempts": 1.0, "lastStatus": nil, "nextAttemptAt": nil, "deliveredAt": nil})
	msg, _ := d["lastError"].(string)
	if !strings.Contains(msg, "blocked by egress policy") || !strings.Contains(msg, "is in ") {
		t.Errorf("admin lastError = %q, want the policy's reason", msg)
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("lastError shows the webhook URL's query: %q", msg)
	}
	if got := hook.hits.Load(); got != 0 {
		t.Errorf("receiver on loopback got %d requests", got)
	}

	items, _ := wantList(t, asKey(t, n, env.readKey, "GET", "/api/alerts/"+id+"/events", nil))
	wantValues(t, "read key's delivery", items[0]["delivery"].(obj), obj{"state": "blocked", "lastStatus": nil, "lastError": "blocked by egress policy"})
}

// A redirect from an allowed receiver into a refused address is not
// followed, whether the target is literal or a name.
func TestE2EWebhookEgressRedirects(t *testing.T) {
	t.Parallel()
	n, _ := alertNode(t, func(cfg *node.Config) { cfg.WebhookAllowCIDRs = []string{"127.0.0.2/32"} })
	env := newAlertEnv(t, n)
	victim := newHitCounter(t, "127.0.0.1:0", http.StatusOK, "")
	_, nodePort, _ := net.SplitHostPort(n.HTTPAddr())
	cases := []struct{ name, target, why string }{
		{"literal loopback", "http://127.0.0.1:" + victim.port() + "/", "is in 127.0.0.0/8"},
		{"name of loopback", "http://localhost:" + victim.port() + "/", "blocked by egress policy"},
		{"the node's own API", "http://127.0.0.1:" + nodePort + "/api/health", "blocked by egress policy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			redirector := newHitCounter(t, "127.0.0.2:0", 0, c.target)
			id := env.fire(t, redirector.srv.URL+"/hook")
			d := env.settled(t, id, "blocked")
			if msg, _ := d["lastError"].(string); !strings.Contains(msg, c.why) {
				t.Errorf("lastError = %q, want %q in it", msg, c.why)
			}
			if redirector.hits.Load() == 0 {
				t.Error("the allowed receiver was not called")
			}
		})
	}
	if got := victim.hits.Load(); got != 0 {
		t.Errorf("redirect target on loopback got %d requests", got)
	}
}

// Admin keys see the raw delivery error and status; bucket keys a generic
// error, no status, and (read keys) the webhook URL reduced to scheme and
// host.
func TestE2EWebhookEgressWhatKeysSee(t *testing.T) {
	t.Parallel()
	n, _ := alertNode(t, func(cfg *node.Config) { cfg.WebhookAllowCIDRs = []string{"127.0.0.2/32"} })
	env := newAlertEnv(t, n)
	hook := newHitCounter(t, "127.0.0.2:0", http.StatusUnauthorized, "")
	origin := "http://127.0.0.2:" + hook.port()
	full := "http://user:pa55@127.0.0.2:" + hook.port() + "/services/T000/B000/XXXX?token=s3cret#frag"
	id := env.fire(t, full)

	var admin obj
	eventually(t, "a recorded attempt", func() bool {
		admin = env.events(t, id)[0]["delivery"].(obj)
		return admin["attempts"].(float64) >= 1
	})
	wantValues(t, "admin's delivery", admin, obj{"lastStatus": 401.0})
	if msg, _ := admin["lastError"].(string); !strings.Contains(msg, "401 Unauthorized") {
		t.Errorf("admin lastError = %q, want the raw answer", msg)
	}

	for _, key := range []struct{ name, key string }{{"read", env.readKey}, {"write", env.writeKey}} {
		items, _ := wantList(t, asKey(t, n, key.key, "GET", "/api/alerts/"+id+"/events", nil))
		d := items[0]["delivery"].(obj)
		wantValues(t, key.name+" key's delivery", d, obj{"lastStatus": nil, "lastError": "delivery failed"})
	}

	t.Run("rule URLs", func(t *testing.T) {
		read := dataObj(t, asKey(t, n, env.readKey, "GET", "/api/alerts/"+id, nil), http.StatusOK)
		wantValues(t, "read key's rule", read, obj{"webhookUrl": origin})
		items, _ := wantList(t, asKey(t, n, env.readKey, "GET", "/api/buckets/"+env.bucketID+"/alerts", nil))
		for _, it := range items {
			if u := it["webhookUrl"].(string); strings.Contains(u, "s3cret") || strings.Contains(u, "pa55") || strings.Contains(u, "/services") {
				t.Errorf("read key's list shows %q", u)
			}
		}
		for _, key := range []string{n.AdminKey, env.writeKey} {
			got := dataObj(t, asKey(t, n, key, "GET", "/api/alerts/"+id, nil), http.StatusOK)
			wantValues(t, "rule", got, obj{"webhookUrl": full})
		}
	})
}
