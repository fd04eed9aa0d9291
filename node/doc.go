// Package node is dakkio's composition root: it builds the metadata state, the
// Raft member and the HTTP API from one Config, starts them in order, creates
// the initial credentials on a fresh cluster, and stops everything in reverse.
// Both cmd/dakkio and the tests run nodes through it.
package node
