// Package node is dakkio's composition root: it builds the metadata state, the
// Raft member, gossip, the node-to-node calls (internal/peerrpc) and the HTTP
// API from one Config, starts them in order, creates the initial credentials
// on a fresh cluster, and stops everything in reverse. Both cmd/dakkio and the
// tests run nodes through it.
//
// Point replication is package replication's; replication.go wires it to
// the node. Still here: backup and restore (backup.go), bucket placement
// (placement.go), leader forwarding and the key lease (cluster.go,
// readindex.go); docs/architecture.md traces them.
package node
