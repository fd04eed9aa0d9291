package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/dakkio/dakkio/client"
)

// Write points and read them back, raw and aggregated.
func Example() {
	ctx := context.Background()
	c := client.New(nodeURL, client.WithAPIKey(adminKey))

	bucket, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: "greenhouse", RetentionDays: client.Ptr(30)})
	if err != nil {
		log.Fatal(err)
	}
	source, err := c.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{
		Name: "sensor-1", Type: client.SourceTypeSensor,
		Schema: map[string]client.Field{"temperature": {Type: client.FieldTypeNumber, Unit: "C"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	var points []client.PointInput
	for i, t := range []float64{20, 21, 22, 23} {
		points = append(points, client.PointInput{DataSourceID: source.ID,
			Timestamp: start.Add(time.Duration(i) * time.Minute), Values: map[string]any{"temperature": t}})
	}
	n, err := c.WriteBatch(ctx, client.WriteBatchRequest{BucketID: bucket.ID, DataPoints: points, Consistency: client.ConsistencyQuorum})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored", n, "points")

	avg, err := c.Query(ctx, client.QueryRequest{BucketID: bucket.ID, Aggregation: client.AggregationAvg, GroupBy: client.GroupByHour})
	if err != nil {
		log.Fatal(err)
	}
	for _, row := range avg.Data {
		fmt.Printf("hour average: %v over %d points\n", row.Values["temperature"], row.Count)
	}
	// Output:
	// stored 4 points
	// hour average: 21.5 over 4 points
}

// Walk every row of a raw query, two per request.
func ExampleClient_QueryAll() {
	ctx := context.Background()
	c := client.New(nodeURL, client.WithAPIKey(adminKey))
	bucket, source := exampleSource(ctx, c, "query-all")
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := range 5 {
		if _, err := c.WritePoint(ctx, client.WritePointRequest{BucketID: bucket, DataSourceID: source,
			Timestamp: start.Add(time.Duration(i) * time.Second), Values: map[string]any{"temperature": float64(i)}}); err != nil {
			log.Fatal(err)
		}
	}
	req := client.QueryRequest{BucketID: bucket, Sort: client.SortAsc,
		Filters: client.QueryFilters{StartTime: start, Limit: 2}}
	for row, err := range c.QueryAll(ctx, req) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(row.Values["temperature"], " ")
	}
	fmt.Println()
	// Output: 0 1 2 3 4
}

// Walk every bucket of an organization, page by page.
func ExampleClient_AllBuckets() {
	ctx := context.Background()
	// A fresh organization, so the list holds only the buckets made here.
	op := client.New(nodeURL, client.WithOperatorToken(operatorToken))
	org, err := op.CreateOrg(ctx, client.CreateOrgRequest{Name: "iterators", Plan: client.PlanPro})
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(nodeURL, client.WithAPIKey(org.AdminKey.Key))
	for _, name := range []string{"alpha", "beta", "gamma", "delta", "epsilon"} {
		if _, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: name}); err != nil {
			log.Fatal(err)
		}
	}
	count := 0
	for b, err := range c.AllBuckets(ctx, 2) { // pages of 2: three requests
		if err != nil {
			log.Fatal(err)
		}
		count++
		_ = b.Name
	}
	fmt.Println(count, "buckets")
	// Output: 5 buckets
}

// Tell a conflict from other failures.
func ExampleIsStatus() {
	ctx := context.Background()
	c := client.New(nodeURL, client.WithAPIKey(adminKey))
	if _, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: "twice"}); err != nil {
		log.Fatal(err)
	}
	_, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: "twice"})
	if client.IsStatus(err, http.StatusConflict) {
		fmt.Println("a bucket with that name exists")
	}
	// Output: a bucket with that name exists
}

// Read the organization's quota from the answer of a typed call.
func ExampleCaptureResponse() {
	ctx := context.Background()
	op := client.New(nodeURL, client.WithOperatorToken(operatorToken))
	org, err := op.CreateOrg(ctx, client.CreateOrgRequest{Name: "quota", Plan: client.PlanFree})
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(nodeURL, client.WithAPIKey(org.AdminKey.Key))
	var info client.ResponseInfo
	if _, err := c.ListBuckets(client.CaptureResponse(ctx, &info), client.Page{Limit: 1}); err != nil {
		log.Fatal(err)
	}
	rl := info.RateLimit
	fmt.Println("status:", info.StatusCode)
	fmt.Println("limited:", info.HasRateLimit && !rl.Unlimited())
	fmt.Println("calls left:", rl.Remaining < rl.Limit)
	fmt.Println("renewed later:", rl.Reset.After(time.Now()))
	// Output:
	// status: 200
	// limited: true
	// calls left: true
	// renewed later: true
}

// Retry 429 and 503 answers, honouring Retry-After, within the context's
// deadline.
func ExampleWithRetry() {
	c := client.New(nodeURL, client.WithAPIKey(adminKey),
		client.WithRetry(client.RetryPolicy{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: 10 * time.Second}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready")
	// Output: ready
}

// Change only some fields: nil ones are not sent.
func ExamplePtr() {
	ctx := context.Background()
	c := client.New(nodeURL, client.WithAPIKey(adminKey))
	b, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: "retained", Description: client.Ptr("kept a while")})
	if err != nil {
		log.Fatal(err)
	}
	b, err = c.UpdateBucket(ctx, b.ID, client.UpdateBucketRequest{RetentionDays: client.Ptr(90)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Description, b.RetentionDays)
	// Output: kept a while 90
}

// Give a device its own write key.
func ExampleClient_CreateKey() {
	ctx := context.Background()
	c := client.New(nodeURL, client.WithAPIKey(adminKey))
	bucket, source := exampleSource(ctx, c, "write-key")
	k, err := c.CreateKey(ctx, bucket, client.CreateKeyRequest{Name: "device-7", Type: client.KeyTypeWrite})
	if err != nil {
		log.Fatal(err)
	}
	device := c.WithAPIKey(k.Key)
	if _, err := device.WritePoint(ctx, client.WritePointRequest{BucketID: bucket, DataSourceID: source,
		Values: map[string]any{"temperature": 19.5}}); err != nil {
		log.Fatal(err)
	}
	_, err = device.ListBuckets(ctx, client.Page{})
	fmt.Println(k.Type, "key; listing buckets:", client.IsStatus(err, http.StatusForbidden))
	// Output: write key; listing buckets: true
}

// exampleSource makes a bucket named name with one numeric source.
func exampleSource(ctx context.Context, c *client.Client, name string) (bucketID, sourceID string) {
	b, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: name})
	if err != nil {
		log.Fatal(err)
	}
	s, err := c.CreateSource(ctx, b.ID, client.CreateSourceRequest{Name: "s",
		Schema: map[string]client.Field{"temperature": {Type: client.FieldTypeNumber}}})
	if err != nil {
		log.Fatal(err)
	}
	return b.ID, s.ID
}
