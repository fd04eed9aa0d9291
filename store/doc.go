// Package store owns dakkio's state on one node: the metadata (organizations,
// buckets, API keys, data sources) that the Raft FSM applies commands to, the
// fastcache of API-key lookups, and, in later parts, the Badger-backed points.
// It knows nothing of Raft or HTTP: cluster decides the order of commands,
// store decides what they do.
package store
