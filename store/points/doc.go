// Package points stores data points in Badger v4 and answers range queries
// over them: the write path (one group-committing writer, so batches never
// conflict and counts stay exact), raw range scans, hourly rollups kept in the
// same transaction as the points they summarize, aggregation by window, and
// retention. It knows nothing of HTTP, Raft or metadata beyond the bucket and
// source ids it is given. See DESIGN.md beside this file for the key layout.
package points
