// Package node is dakkio's composition root: it builds the metadata state, the
// Raft member, gossip, the node-to-node calls (internal/peerrpc) and the HTTP
// API from one Config, starts them in order, creates the initial credentials
// on a fresh cluster, and stops everything in reverse. Both cmd/dakkio and the
// tests run nodes through it.
//
// It still holds most of the replication of points (points.go,
// replication.go, backup.go; the hint queue and repair are package
// replication's, wired in replicadeps.go), leader forwarding and the key lease (cluster.go,
// readindex.go); docs/architecture.md traces them.
package node
