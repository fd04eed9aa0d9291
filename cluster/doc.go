// Package cluster owns consensus and membership: the hashicorp/raft node, the
// FSM that applies metadata commands to a store.State in log order, the
// command codec, the log store (raft-boltdb/v2) and file snapshots, gossip
// membership (memberlist), bucket placement and the distributed rate-limit
// counters. No raft or memberlist type leaves this package. Replication of
// points is node's (replication.go, hints.go, repair.go).
package cluster
