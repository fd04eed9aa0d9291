// Package replication owns the parts of point replication that stand on
// their own: the hinted-handoff queue (Hints), the writes a coordinator
// could not deliver to a replica, kept on disk per target until they are
// replayed or expire; and the Replicator, which so far runs anti-entropy
// repair and tracks whether this node's copy of a bucket is in sync
// (repair.go), through the interfaces of deps.go. The fan-out, read
// hedging and replay loop still live in node (replication.go, points.go)
// and move here next; docs/architecture.md says where each is.
package replication
