// Package checker decides whether a recorded history shows the cluster
// breaking one of its promises (jepsen/README.md, "Workloads and checkers").
// Each checker takes the whole history, looks only at its own workload's
// operations, and returns a Verdict listing every anomaly it found.
//
// Indeterminate operations (history.Info: timeouts, 5xx) may or may not have
// taken effect; every checker allows both.
package checker

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Verdict is a checker's answer.
type Verdict struct {
	Checker string `json:"checker"`
	// Valid is false when an anomaly was found (or the history could not be
	// decided, in which case Unknown is true).
	Valid   bool `json:"valid"`
	Unknown bool `json:"unknown,omitempty"`
	// Stats are counts the report shows (acknowledged, lost, ...).
	Stats map[string]int64 `json:"stats"`
	// Anomalies break a promise; each makes the verdict invalid.
	Anomalies []Anomaly `json:"anomalies"`
	// Notes are observations that break no documented promise (points seen
	// only by some reads while their write was unacknowledged, ...).
	Notes []string `json:"notes,omitempty"`
}

// Anomaly is one broken promise.
type Anomaly struct {
	Kind    string `json:"kind"`
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
	// Ops are the indexes of the history entries that show it.
	Ops []int `json:"ops,omitempty"`
}

func newVerdict(name string) *Verdict {
	return &Verdict{Checker: name, Valid: true, Stats: map[string]int64{}, Anomalies: []Anomaly{}}
}

// maxAnomalies bounds the anomalies listed per kind; Stats keeps the counts.
const maxAnomalies = 50

func (v *Verdict) add(a Anomaly) {
	v.Valid = false
	v.Stats["anomaly:"+a.Kind]++
	if v.Stats["anomaly:"+a.Kind] <= maxAnomalies {
		v.Anomalies = append(v.Anomalies, a)
	}
}

func (v *Verdict) note(format string, args ...any) {
	v.Notes = append(v.Notes, fmt.Sprintf(format, args...))
}

// AnomalyKinds lists the kinds of anomalies found, sorted.
func (v *Verdict) AnomalyKinds() []string {
	seen := map[string]bool{}
	var kinds []string
	for _, a := range v.Anomalies {
		if !seen[a.Kind] {
			seen[a.Kind] = true
			kinds = append(kinds, a.Kind)
		}
	}
	sort.Strings(kinds)
	return kinds
}

// WriteFile writes the verdict as indented JSON.
func (v *Verdict) WriteFile(path string) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func sortedInt64s(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ids renders at most 20 ids.
func ids(xs []int64) string {
	if len(xs) > 20 {
		return fmt.Sprintf("%v ... (%d in all)", xs[:20], len(xs))
	}
	return fmt.Sprint(xs)
}
