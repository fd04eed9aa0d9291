// Package testnode starts real dakkio nodes for tests: each on its own
// listeners (ports from :0) and temporary data directory, stopped by
// t.Cleanup, with a client for its initial admin key and operator token.
package testnode
