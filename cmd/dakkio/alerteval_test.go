package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/node"
)

var (
	chaosBuildOnce sync.Once
	chaosBinPath   string
	chaosBuildErr  error
)

// chaosBinary builds this command with -tags chaosbugs once per test run,
// next to dakkioBinary's build.
func chaosBinary(t *testing.T) string {
	t.Helper()
	dakkioBinary(t) // makes binDir
	chaosBuildOnce.Do(func() {
		chaosBinPath = filepath.Join(binDir, "dakkio-chaos")
		out, err := exec.Command("go", "build", "-tags", "chaosbugs", "-o", chaosBinPath, ".").CombinedOutput()
		if err != nil {
			chaosBuildErr = fmt.Errorf("go build -tags chaosbugs: %v\n%s", err, out)
		}
	})
	if chaosBuildErr != nil {
		t.Fatal(chaosBuildErr)
	}
	return chaosBinPath
}

// TestSIGKILLAfterAckStillTriggersOnce: a hot point acknowledged by a node
// that is killed (SIGKILL) before it evaluates the point — a chaos build
// whose evaluator never runs, hold-alerts — triggers its rule once after
// the node restarts: one event, one distinct delivery to the webhook.
func TestSIGKILLAfterAckStillTriggersOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	deliveries := map[string]int{} // X-Dakkio-Delivery -> posts
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Event string `json:"event"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Event == "alert.triggered" {
			mu.Lock()
			deliveries[r.Header.Get("X-Dakkio-Delivery")]++
			mu.Unlock()
		}
	}))
	defer hook.Close()
	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(deliveries)
	}

	dir := t.TempDir()
	ctx := testCtx(t)
	allow := "DAKKIO_WEBHOOK_ALLOW_CIDRS=127.0.0.0/8"
	s := startServerBin(t, chaosBinary(t), "held evaluator", dir, []string{allow, "DAKKIO_CHAOS_BUG=hold-alerts"}, nil)
	admin := s.client(string(bytes.TrimSpace(credFile(t, dir, node.InitialAdminKeyFile))))
	bucket := must[*client.Bucket](t, "create bucket")(admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "alerts", RetentionDays: ptr(3650)}))
	src := must[*client.DataSource](t, "create source")(admin.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{Name: "s", Schema: map[string]client.Field{"v": {Type: "number"}}}))
	rule := must[*client.AlertRule](t, "create rule")(admin.CreateAlert(ctx, client.CreateAlertRequest{BucketID: bucket.ID, DataSourceID: src.ID, Name: "hot",
		Condition: "v is greater than 10", WebhookURL: hook.URL, CooldownMinutes: ptr(0)}))
	must[*client.DataPoint](t, "write the hot point")(admin.WritePoint(ctx, client.WritePointRequest{BucketID: bucket.ID, DataSourceID: src.ID,
		Timestamp: time.Now().Add(-time.Minute), Values: map[string]any{"v": 20.0}}))
	if evs := must[*client.List[client.AlertEvent]](t, "list events")(admin.ListAlertEvents(ctx, rule.ID, client.Page{})); len(evs.Data) != 0 {
		t.Fatalf("held evaluator recorded events %+v", evs.Data)
	}
	if st := s.signal(syscall.SIGKILL, 10*time.Second); st.Success() {
		t.Fatalf("SIGKILLed process exited successfully: %v", st)
	}

	s = startServer(t, "restart after SIGKILL", dir, []string{allow}, s)
	admin = s.client(string(bytes.TrimSpace(credFile(t, dir, node.InitialAdminKeyFile))))
	var events []client.AlertEvent
	deadline := time.Now().Add(30 * time.Second)
	for {
		events = must[*client.List[client.AlertEvent]](t, "list events")(admin.ListAlertEvents(ctx, rule.ID, client.Page{})).Data
		if len(events) > 0 && events[0].Delivery.State == "delivered" && distinct() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivered trigger 30s after the restart: events %+v, %d deliveries", events, distinct())
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Everything acknowledged is evaluated once the queue gauge reads 0.
	for !queueEmpty(t, s) {
		if time.Now().After(deadline) {
			t.Fatal("the evaluation queue did not drain")
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	events = must[*client.List[client.AlertEvent]](t, "list events")(admin.ListAlertEvents(ctx, rule.ID, client.Page{})).Data
	if len(events) != 1 || distinct() != 1 {
		t.Fatalf("%d events (%+v) and %d distinct deliveries after the restart, want 1 each", len(events), events, distinct())
	}
}

// queueEmpty reads dakkio_alert_eval_queue_writes from /metrics.
func queueEmpty(t *testing.T, s *server) bool {
	t.Helper()
	resp, err := s.hc.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	for _, line := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if bytes.HasPrefix(line, []byte("dakkio_alert_eval_queue_writes ")) {
			return bytes.Equal(bytes.TrimPrefix(line, []byte("dakkio_alert_eval_queue_writes ")), []byte("0"))
		}
	}
	t.Fatalf("/metrics has no dakkio_alert_eval_queue_writes:\n%s", buf.String())
	return false
}
