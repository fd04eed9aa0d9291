package report

import (
	"sort"

	"github.com/dakkio/dakkio/jepsen/history"
)

// Window is a span of the run during which a fault was in force, in
// seconds since the run started.
type Window struct {
	From, To float64
	Fault    string // what was injected, as the nemesis recorded it
}

// FaultWindows pairs each nemesis fault with the heal that ended it. A
// fault still in force at the end of the history lasts until end (seconds).
// Several faults before one heal (mixed nemeses) share one window.
func FaultWindows(ops []history.Op, end float64) []Window {
	var nem []history.Op
	for _, op := range ops {
		if op.Process == history.NemesisProcess {
			nem = append(nem, op)
		}
	}
	sort.SliceStable(nem, func(i, j int) bool { return nem[i].Start < nem[j].Start })
	var out []Window
	var open *Window
	for _, op := range nem {
		if op.F == "heal" {
			if open != nil {
				open.To = seconds(op.End)
				out = append(out, *open)
				open = nil
			}
			continue
		}
		if open == nil {
			open = &Window{From: seconds(op.Start), Fault: op.F + " " + op.Value}
		} else {
			open.Fault += "; " + op.F + " " + op.Value
		}
	}
	if open != nil {
		open.To = max(end, open.From)
		out = append(out, *open)
	}
	return out
}

func seconds(ns int64) float64 { return float64(ns) / 1e9 }
