// Package cluster owns consensus: the hashicorp/raft node, the FSM that applies
// metadata commands to a store.State in log order, the command codec, the log
// store (raft-boltdb/v2) and file snapshots. Later parts add membership,
// placement and replication of points here. No raft type leaves this package.
package cluster
