package node_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
)

// TestMetadataReadsAreLinearizable: a change acknowledged through one node
// is read back through every other node at once, every time: reads wait
// for the leader's commit index (jepsen register × partition-leader, seed
// 449642, once read a description a completed write had replaced).
func TestMetadataReadsAreLinearizable(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()
	b, err := nodes[0].Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "register"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		via, reader := nodes[i%3], nodes[(i+1+i/3)%3]
		if via == reader {
			reader = nodes[(i+2)%3]
		}
		want := fmt.Sprintf("v%d", i)
		if _, err := via.Admin.UpdateBucket(ctx, b.ID, client.UpdateBucketRequest{Description: &want}); err != nil {
			t.Fatal(err)
		}
		got, err := reader.Admin.GetBucket(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Description != want {
			t.Fatalf("write %d through %s, then read through %s: description %q, want %q", i, via.Config.NodeID, reader.Config.NodeID, got.Description, want)
		}
	}
}
