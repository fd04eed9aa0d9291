package cluster

import (
	"context"
	"sync"

	"github.com/dakkio/dakkio/store"
)

// LocalApplier applies commands straight to a state through the same codec
// and FSM as Raft, without consensus: for tests and fuzzing of the layers
// above, where a log and an election would only add time.
type LocalApplier struct {
	mu  sync.Mutex
	fsm *fsm
}

// NewLocalApplier returns an applier for state.
func NewLocalApplier(state *store.State) *LocalApplier {
	return &LocalApplier{fsm: &fsm{state: state}}
}

// Apply encodes, decodes and applies cmd, as a one-node Raft would.
func (a *LocalApplier) Apply(_ context.Context, cmd any) (any, error) {
	entry, err := encodeCommand(cmd)
	if err != nil {
		return nil, err
	}
	decoded, err := decodeCommand(entry)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	res := a.fsm.apply(decoded)
	return res.Value, res.Err
}
