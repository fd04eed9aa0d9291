// Package replication owns the parts of point replication that stand on
// their own: so far the hinted-handoff queue (Hints), the writes a
// coordinator could not deliver to a replica, kept on disk per target until
// they are replayed or expire. The fan-out, read hedging, replay loop and
// repair that use it still live in node (replication.go, points.go,
// repair.go) and move here next; docs/architecture.md says where each is.
package replication
