// Package replication replicates points across a bucket's replicas. A
// Replicator owns the write fan-out at a consistency level, the replica
// side of it and the fan-out of restored points (write.go), the hinted
// handoff of writes a replica missed (Hints) and their replay, reads
// answered by a replica in sync, hedged and verified (read.go), and
// anti-entropy repair, which also tracks whether this node's copy of a
// bucket is in sync (repair.go). It reaches the node through the
// interfaces of deps.go, which package node satisfies, so its tests run
// on fakes; docs/architecture.md traces it.
package replication
