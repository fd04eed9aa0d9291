package alerting

import (
	"sync/atomic"

	"github.com/dakkio/dakkio/store"
)

// Deliveries counts the webhook delivery attempts this node made and
// recorded since it started, by outcome.
type Deliveries struct {
	// Delivered: the webhook answered 2xx.
	Delivered uint64
	// Retrying: the attempt failed and another will follow.
	Retrying uint64
	// Failed: the attempt failed and was the last one allowed.
	Failed uint64
	// Blocked: the egress policy refused the webhook's address.
	Blocked uint64
}

type deliveryCounts struct {
	delivered, retrying, failed, blocked atomic.Uint64
}

func (c *deliveryCounts) count(delivered bool, state string) {
	switch {
	case delivered:
		c.delivered.Add(1)
	case state == store.DeliveryBlocked:
		c.blocked.Add(1)
	case state == store.DeliveryFailed:
		c.failed.Add(1)
	default:
		c.retrying.Add(1)
	}
}

// Deliveries returns the delivery attempts so far, by outcome.
func (e *Engine) Deliveries() Deliveries {
	return Deliveries{Delivered: e.attempts.delivered.Load(), Retrying: e.attempts.retrying.Load(),
		Failed: e.attempts.failed.Load(), Blocked: e.attempts.blocked.Load()}
}
