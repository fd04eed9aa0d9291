// Package node is dakkio's composition root: it builds the metadata state, the
// Raft member, gossip, the node-to-node calls (internal/peerrpc) and the HTTP
// API from one Config, starts them in order, creates the initial credentials
// on a fresh cluster, and stops everything in reverse. Both cmd/dakkio and the
// tests run nodes through it.
//
// The protocols are other packages': points replication (replication),
// applying and reading the metadata and removing a node (metadata), bucket
// placement (cluster.Placer), alert evaluation, its queue and which node
// evaluates (node/alerting), the metrics collector (internal/nodemetrics),
// the cluster status document (internal/clusterstatus) and TLS
// (internal/tlsconfig). replication.go gives them their views of gossip,
// Raft and the other nodes. Still here: the backup and restore entry points
// (backup.go); docs/architecture.md traces them.
package node
