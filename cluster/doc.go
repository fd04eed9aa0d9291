// Package cluster owns consensus and membership: the hashicorp/raft node, the
// FSM that applies metadata commands to a store.State in log order, the table
// of those commands (commands.go), the log store (raft-boltdb/v2) and file
// snapshots, gossip membership (memberlist), bucket placement and the
// distributed rate-limit counters. No raft or memberlist type leaves this
// package. Node-to-node calls are internal/peerrpc's; the replication of
// points is node's and package replication's.
package cluster
