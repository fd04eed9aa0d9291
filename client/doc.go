// Package client is the Go SDK for the dakkio HTTP API.
//
// It speaks the public contract only: besides the standard library it
// imports nothing from this module but internal/backupfile, the backup
// file format that Backup writes and Restore reads. The CLI, the
// integration tests and the chaos suite use it against any running cluster
// as a black box.
//
//	c := client.New("http://127.0.0.1:8080", client.WithAPIKey(adminKey))
//	b, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: "sensors", RetentionDays: client.Ptr(90)})
//	if client.IsStatus(err, http.StatusConflict) {
//		// a bucket with that name already exists
//	}
//
// Every typed method unwraps the success envelope and returns its data; any
// non-2xx answer comes back as an *APIError. Operator endpoints
// (/api/operator/...) are authenticated with the operator token, all others
// with the API key. Do sends arbitrary requests, for tests of malformed input.
//
// The API's enumerations have typed constants (AggregationAvg, GroupByHour,
// KeyTypeRead, ConsistencyQuorum, SourceTypeSensor, ...), and Ptr fills the
// optional fields of requests. AllBuckets and the other All* methods walk
// paginated lists as iter.Seq2 iterators; QueryAll walks a raw query's
// pages. WithRetry turns on bounded, context-aware retries of 429 and 503
// answers that honour Retry-After. CaptureResponse gives a typed call's
// status and X-RateLimit-* quota; APIError.RateLimit that of a failure.
package client
