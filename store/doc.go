// Package store owns dakkio's state on one node: the metadata (organizations,
// buckets, API keys, data sources, alert rules) that the Raft FSM applies
// commands to, and the fastcache of API-key lookups. The points live in
// store/points, the Badger-backed part.
// It knows nothing of Raft or HTTP: cluster decides the order of commands,
// store decides what they do.
package store
