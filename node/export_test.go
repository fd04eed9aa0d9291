package node

// HoldApply stops this node applying Raft entries until release (see
// cluster.Raft.HoldApply).
func (n *Node) HoldApply() (release func()) { return n.raft.HoldApply() }

// HoldEvaluation stops this node evaluating queued writes against alert
// rules until release; writes are still stored and acknowledged.
func (n *Node) HoldEvaluation() (release func()) { return n.queue.Hold() }
