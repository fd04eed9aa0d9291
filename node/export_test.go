package node

// HoldApply stops this node applying Raft entries until release (see
// cluster.Raft.HoldApply).
func (n *Node) HoldApply() (release func()) { return n.raft.HoldApply() }
