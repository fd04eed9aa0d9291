package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
)

// TestConsoleClusterInBrowser shows a three-node cluster on the operator's
// cluster page and follows it live: every node healthy with the leader and
// the bucket's placement; then a node stops, and without reloading, the
// page shows it unreachable and the hints queued for it.
func TestConsoleClusterInBrowser(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()
	bk, err := nodes[0].Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "spread"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := nodes[0].Admin.CreateSource(ctx, bk.ID, client.CreateSourceRequest{Name: "s", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, nodes[0].URL, 4*time.Minute)
	b.do("load /console", chromedp.Navigate(nodes[0].URL+"/console"))
	b.waitView("signin")
	b.signIn(nodes[0].OperatorToken, "", true, "cluster")
	b.wait("three healthy nodes", `document.querySelectorAll('#nodes-table tr[data-healthy="true"]').length === 3`)
	// The page names the leader the cluster reports (polled: on a loaded
	// machine leadership may move while the test looks).
	var leader string
	for deadline := time.Now().Add(45 * time.Second); ; {
		st, err := nodes[0].Operator.ClusterStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := b.text("#leader .value")
		if got == st.LeaderID && got != "" {
			leader = got
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page names %q the leader; the cluster reports %q", got, st.LeaderID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := b.text(`#nodes-table tr[data-node="` + leader + `"]`); !strings.Contains(got, "Leader") {
		t.Errorf("the leader's row shows %q", got)
	}
	// The node to stop: neither the one the browser talks to nor the leader.
	victim := nodes[1]
	if victim.Config.NodeID == leader {
		victim = nodes[2]
	}
	b.wait("the bucket's placement", fmt.Sprintf(`document.querySelector('#placement-table tr[data-bucket=%q]')`, bk.ID))
	if got := b.text(fmt.Sprintf(`#placement-table tr[data-bucket=%q]`, bk.ID)); len(got) < 24+len("node1, node2, node3")-2 {
		t.Errorf("the bucket's placement row is %q", got)
	}
	if got := b.text("#repair"); got == "" {
		t.Error("the page shows no repair progress")
	}
	refreshes := evalJS[int](b, `Number(document.getElementById("cluster").dataset.refreshes)`)
	b.wait("two more refreshes", fmt.Sprintf(`Number(document.getElementById("cluster").dataset.refreshes) >= %d`, refreshes+2))
	b.shot("cluster")

	// A node stops; writes meant for it queue as hints on this node.
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	id := victim.Config.NodeID
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; ; i++ {
		_, err := nodes[0].Admin.WritePoint(ctx, client.WritePointRequest{BucketID: bk.ID, DataSourceID: src.ID,
			Timestamp: time.Now().Add(-time.Duration(i) * time.Second), Values: map[string]any{"v": float64(i)}})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes with %s down keep failing: %v", id, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.wait(id+" unreachable", fmt.Sprintf(`(document.querySelector('#nodes-table tr[data-node=%q]') || {dataset: {}}).dataset.healthy === "false"`, id))
	b.wait("hints for "+id, fmt.Sprintf(`document.getElementById("hints-table") && document.getElementById("hints-table").textContent.includes(%q)`, id))
	// Polled: on a loaded machine gossip may call a live node suspect for
	// a moment, and the page says so at its next refresh.
	b.wait("two of three nodes healthy", `((document.querySelector("#healthy .value") || {}).textContent || "").trim() === "2 of 3"`)
	b.shot("cluster-node-down")
	b.check()
}
