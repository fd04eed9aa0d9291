package store

import (
	"time"
)

// Month names the calendar month (UTC) of t as usage is kept: "2006-01".
func Month(t time.Time) string { return t.UTC().Format("2006-01") }

// monthsKept bounds how many months of usage the state remembers.
const monthsKept = 13

// ApplySetUsage applies a SetUsage command.
func (s *State) ApplySetUsage(c SetUsage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	byOrg := s.data.usage[c.Month]
	if byOrg == nil {
		byOrg = map[string]map[string]int64{}
		s.data.usage[c.Month] = byOrg
		s.data.pruneUsage()
	}
	for org, n := range c.Counts {
		if byOrg[org] == nil {
			byOrg[org] = map[string]int64{}
		}
		// Counts only grow within a month: a delayed, older report must not
		// lower a newer one.
		byOrg[org][c.NodeID] = max(byOrg[org][c.NodeID], n)
	}
	for id, at := range c.KeysUsed {
		if _, ok := s.data.apiKeys[id]; ok && at.After(s.data.keyLastUsed[id]) {
			s.data.keyLastUsed[id] = at
		}
	}
	return nil
}

func (t *tables) pruneUsage() {
	if len(t.usage) <= monthsKept {
		return
	}
	oldest := ""
	for m := range t.usage {
		if oldest == "" || m < oldest {
			oldest = m
		}
	}
	delete(t.usage, oldest)
}

// Usage returns an organization's calls in a month as recorded in the log,
// split into this node's and the other nodes' shares.
func (s *State) Usage(month, orgID, nodeID string) (own, others int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for node, n := range s.data.usage[month][orgID] {
		if node == nodeID {
			own += n
		} else {
			others += n
		}
	}
	return own, others
}

// NodeUsage returns this node's recorded counts for a month, by organization.
func (s *State) NodeUsage(month, nodeID string) map[string]int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int64{}
	for org, byNode := range s.data.usage[month] {
		if n := byNode[nodeID]; n > 0 {
			out[org] = n
		}
	}
	return out
}

// KeyLastUsed returns when the key was last used, as recorded in the log.
func (s *State) KeyLastUsed(keyID string) (time.Time, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.data.keyLastUsed[keyID]
	return t, ok
}

func cloneUsage(u map[string]map[string]map[string]int64) map[string]map[string]map[string]int64 {
	out := make(map[string]map[string]map[string]int64, len(u))
	for m, byOrg := range u {
		out[m] = make(map[string]map[string]int64, len(byOrg))
		for org, byNode := range byOrg {
			out[m][org] = make(map[string]int64, len(byNode))
			for n, c := range byNode {
				out[m][org][n] = c
			}
		}
	}
	return out
}
