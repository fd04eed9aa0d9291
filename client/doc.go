// Package client is the Go SDK for the dakkio HTTP API.
//
// It speaks the public contract only (of this module it imports only
// internal/backupfile, the backup file format it shares with the server), so the CLI, the integration tests and the chaos suite can use it
// against any running cluster as a black box.
//
//	c := client.New("http://127.0.0.1:8080", client.WithAPIKey(adminKey))
//	b, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: "sensors"})
//	if client.IsStatus(err, http.StatusConflict) {
//		// a bucket with that name already exists
//	}
//
// Every typed method unwraps the success envelope and returns its data; any
// non-2xx answer comes back as an *APIError. Operator endpoints
// (/api/operator/...) are authenticated with the operator token, all others
// with the API key. Do sends arbitrary requests, for tests of malformed input.
package client
