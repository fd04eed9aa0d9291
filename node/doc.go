// Package node is dakkio's composition root: it builds the metadata state, the
// Raft member, gossip, the node-to-node calls (internal/peerrpc) and the HTTP
// API from one Config, starts them in order, creates the initial credentials
// on a fresh cluster, and stops everything in reverse. Both cmd/dakkio and the
// tests run nodes through it.
//
// The protocols are other packages': points replication (replication),
// applying and reading the metadata from any node (metadata), bucket
// placement (cluster.Placer), alert evaluation and its queue
// (node/alerting). replication.go gives them their views of gossip, Raft
// and the other nodes. Still here: removing a node (remove.go) and the
// backup and restore entry points (backup.go); docs/architecture.md traces
// them.
package node
