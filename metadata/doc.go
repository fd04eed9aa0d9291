// Package metadata applies and reads the Raft-replicated metadata
// (store.State) from any node. A Service commits a command through the
// local Raft when this node leads and forwards it to the leader otherwise
// (apply.go); serves reads from the local copy, catching up with the
// leader's commit index before it answers "not found" (synced.go); gives
// linearizable reads a read barrier and API keys a lease (readindex.go);
// and names the leader to a caller that must go there (leader.go).
//
// It is a top-level package beside replication, which does the same for
// points: both are protocol, not wiring, and node only builds them. It
// reaches Raft, gossip and the other nodes through the interfaces of
// deps.go, so its tests run on fakes; docs/architecture.md traces it.
package metadata
