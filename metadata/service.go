package metadata

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/dakkio/dakkio/store"
)

// Service applies and reads the metadata on one node.
type Service struct {
	cfg       Config
	log       *slog.Logger
	readIndex readIndexRounds // a follower's catch-ups with the leader
	// currentAsOf: this node had applied everything committed before it
	// (ns after processStart, plus 1; 0 = never); the key lease.
	currentAsOf atomic.Int64
	leases      leaseLedger // the leader's: when it last renewed each node's lease

	stop chan struct{}
	bg   sync.WaitGroup // the key lease's renewal, stopped by stop

	chaosMu   sync.Mutex                 // the keep-revoked-keys bug
	chaosSeen map[string]store.Principal // of chaos builds only
}

// New returns a Service; it renews the key lease only once started.
func New(cfg Config) *Service {
	cfg.setDefaults()
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "metadata"), stop: make(chan struct{})}
}

// Start renews the key lease in the background, in a cluster.
func (s *Service) Start() {
	if !s.cfg.Cluster.Clustered() {
		return
	}
	s.bg.Go(s.confirmKeys)
}

// Close stops the key lease's renewal and waits for it. Call it once.
func (s *Service) Close() {
	close(s.stop)
	s.bg.Wait()
}
