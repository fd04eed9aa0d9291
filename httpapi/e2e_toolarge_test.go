package httpapi_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/testnode"
)

// TestE2ELargestBatchIsStored: a batch of 1000 points each with metadata
// near its 8192-byte limit (about 8 MB, under the 10 MiB body limit),
// spread over 100 sources (100 blocks of 80 KB, each counted whole by
// Badger's transaction limit), is stored whole: the points store's
// memtables are large enough for it. The metadata is once a repeated
// letter and once random printable characters, which compression barely
// shrinks: the largest transaction a request can make.
func TestE2ELargestBatchIsStored(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	admin := n.AdminKey
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() string {
		var b strings.Builder
		for b.Len() < 8180 {
			c := byte(' ' + rng.IntN(95))
			if c != '"' && c != '\\' {
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	for _, tc := range []struct {
		name string
		pad  func() string
	}{
		{"repeated", func() string { return strings.Repeat("m", 8180) }},
		{"random", random},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := mkBucket(t, n, admin, obj{"name": "big-batch-" + tc.name})["_id"].(string)
			srcs := make([]string, 100)
			for i := range srcs {
				srcs[i] = mkSource(t, n, admin, bucket, fmt.Sprintf("s%d", i))["_id"].(string)
			}
			start := time.Now().Add(-time.Hour).Truncate(time.Second)
			pts := make([]any, 1000)
			for i := range pts {
				pts[i] = obj{"dataSourceId": srcs[i%len(srcs)], "timestamp": start.Add(time.Duration(i) * time.Second).Format(time.RFC3339),
					"values": obj{"temperature": 20.5}, "metadata": obj{"pad": tc.pad()}}
			}
			r := asKey(t, n, admin, "POST", "/api/data/batch", obj{"bucketId": bucket, "dataPoints": pts})
			dataObj(t, r, http.StatusCreated)
			b := dataObj(t, asKey(t, n, admin, "GET", "/api/buckets/"+bucket, nil), http.StatusOK)
			if got := b["stats"].(obj)["dataPointCount"]; got != 1000.0 {
				t.Fatalf("dataPointCount = %v, want 1000", got)
			}
		})
	}
}
