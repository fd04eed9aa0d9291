//go:build chaosbugs

package node

import "os"

// chaosBug is the bug this build injects, named by DAKKIO_CHAOS_BUG, so that
// the chaos suite can prove its checkers catch it (jepsen prove). Only a
// binary built with -tags chaosbugs has one; see chaosbugs_off.go.
//
//	lose-writes        every tenth batch is acknowledged but stored nowhere
//	stale-reads        metadata reads skip the read index
//	keep-revoked-keys  a key, once seen, is accepted even after its delete
//	count-locally      rate limits count this node's calls only
//	agg-local-only     aggregated queries read this node's own store, never
//	                   the bucket's replicas
//	restore-drops-batches  a third of restored batches are acknowledged but
//	                   stored nowhere
//	hold-alerts        written points are queued for alert evaluation but never
//	                   evaluated: a node that dies right after acknowledging
//	                   (cmd/dakkio's TestSIGKILLAfterAckStillTriggersOnce)
var chaosBug = os.Getenv("DAKKIO_CHAOS_BUG")
