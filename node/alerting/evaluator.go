package alerting

// Evaluates is Config.IsEvaluator in a cluster: it reports whether node
// self evaluates the rules of a bucket with these replicas. The first
// replica alive on gossip does, so that one node, and one only while gossip
// agrees, evaluates each write; with no placement (a bucket placed before
// placement existed) the Raft leader does.
func Evaluates(self string, replicas []string, alive func(id string) bool, isLeader func() bool) bool {
	if len(replicas) == 0 {
		return isLeader()
	}
	for _, id := range replicas {
		if id == self {
			return true
		}
		if alive(id) {
			return false
		}
	}
	return false
}
