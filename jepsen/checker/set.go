package checker

import (
	"fmt"
	"sort"

	"github.com/dakkio/dakkio/jepsen/history"
)

// Set checks the set workload: every point is a unique integer id added
// once ("add", Ints), reads ("read") return every id they see, and after the
// faults heal one read through every node ("final-read", Node) returns what
// that node serves.
//
// Anomalies:
//   - lost: acknowledged, but missing from a final read;
//   - unexpected: read, but never attempted;
//   - duplicated: one read returned the same id twice;
//   - flicker: an acknowledged id seen by one read and missing from a read
//     that started after it ended;
//   - revived: an add that definitely failed (4xx) is read back;
//   - no-final-read: no final read succeeded, so nothing can be decided.
//
// Unacknowledged (info) ids that flicker, and acknowledged ids missing from a
// read that started after the acknowledgement but seen later (stale reads),
// are counted and noted, not anomalies: the API lets a refused or timed-out
// batch sit on some replicas only, and reads are served by one replica.
func Set(ops []history.Op) *Verdict {
	v := newVerdict("set")
	attempted := map[int64]bool{}
	acked := map[int64]int64{} // id -> earliest acknowledgement (End)
	failed := map[int64]bool{}
	indeterminate := map[int64]bool{}
	addOp := map[int64]int{}
	var reads, finals []history.Op
	for _, op := range ops {
		switch op.F {
		case "add":
			v.Stats["add:"+op.Type]++
			for _, id := range op.Ints {
				attempted[id] = true
				addOp[id] = op.Index
				switch op.Type {
				case history.OK:
					if t, ok := acked[id]; !ok || op.End < t {
						acked[id] = op.End
					}
				case history.Fail:
					failed[id] = true
				default:
					indeterminate[id] = true
				}
			}
		case "read", "final-read":
			v.Stats[op.F+":"+op.Type]++
			if op.Type != history.OK {
				continue
			}
			reads = append(reads, op)
			if op.F == "final-read" {
				finals = append(finals, op)
			}
		}
	}
	for id := range failed {
		if _, ok := acked[id]; ok {
			delete(failed, id) // a retry of the same id succeeded
		}
	}
	v.Stats["attempted"] = int64(len(attempted))
	v.Stats["acknowledged"] = int64(len(acked))

	sort.SliceStable(reads, func(i, j int) bool { return reads[i].Start < reads[j].Start })
	readSets := make([]map[int64]bool, len(reads))
	firstSeenEnd := map[int64]int64{} // id -> earliest End of a read that saw it
	firstSeenOp := map[int64]int{}
	for i, r := range reads {
		set := make(map[int64]bool, len(r.Ints))
		dups := map[int64]bool{}
		for _, id := range r.Ints {
			if set[id] {
				dups[id] = true
			}
			set[id] = true
			if !attempted[id] {
				v.add(Anomaly{Kind: "unexpected", Key: fmt.Sprint(id), Ops: []int{r.Index},
					Message: fmt.Sprintf("read through %s returned id %d, which no client ever wrote", r.Node, id)})
			}
			if failed[id] {
				v.add(Anomaly{Kind: "revived", Key: fmt.Sprint(id), Ops: []int{addOp[id], r.Index},
					Message: fmt.Sprintf("id %d was refused with a 4xx but read back through %s", id, r.Node)})
				delete(failed, id)
			}
			if t, ok := firstSeenEnd[id]; !ok || r.End < t {
				firstSeenEnd[id] = r.End
				firstSeenOp[id] = r.Index
			}
		}
		if len(dups) > 0 {
			v.add(Anomaly{Kind: "duplicated", Ops: []int{r.Index},
				Message: fmt.Sprintf("read through %s returned ids more than once: %s", r.Node, ids(sortedInt64s(dups)))})
		}
		readSets[i] = set
	}

	// Flicker and stale reads: compare each read with what earlier reads saw
	// and what was acknowledged before it started.
	flickered := map[int64]bool{}
	flickerUnacked := map[int64]bool{}
	stale := map[int64]bool{}
	for i, r := range reads {
		set := readSets[i]
		for id, seenEnd := range firstSeenEnd {
			if seenEnd >= r.Start || set[id] {
				continue
			}
			if _, ok := acked[id]; !ok {
				flickerUnacked[id] = true
				continue
			}
			if !flickered[id] {
				flickered[id] = true
				v.add(Anomaly{Kind: "flicker", Key: fmt.Sprint(id), Ops: []int{addOp[id], firstSeenOp[id], r.Index},
					Message: fmt.Sprintf("acknowledged id %d was read (op %d) and then missing from a later read through %s (op %d)",
						id, firstSeenOp[id], r.Node, r.Index)})
			}
		}
		for id, t := range acked {
			if t < r.Start && !set[id] {
				if seenEnd, ok := firstSeenEnd[id]; !ok || seenEnd >= r.Start {
					stale[id] = true
				}
			}
		}
	}
	v.Stats["flicker"] = int64(len(flickered))
	v.Stats["flicker-unacknowledged"] = int64(len(flickerUnacked))
	v.Stats["stale-read-ids"] = int64(len(stale))
	if len(flickerUnacked) > 0 {
		v.note("%d unacknowledged ids were seen by a read and missing from a later one (a refused or timed-out batch on some replicas only): %s",
			len(flickerUnacked), ids(sortedInt64s(flickerUnacked)))
	}
	if len(stale) > 0 {
		v.note("%d acknowledged ids were missing from a read that started after their acknowledgement, before any read saw them: %s",
			len(stale), ids(sortedInt64s(stale)))
	}

	// Lost: acknowledged, missing from a final read.
	if len(finals) == 0 {
		v.Valid, v.Unknown = false, true
		v.add(Anomaly{Kind: "no-final-read", Message: "no final read succeeded: lost points cannot be decided"})
		return v
	}
	lost := map[int64]bool{}
	present := map[int64]bool{}
	for _, f := range finals {
		set := map[int64]bool{}
		for _, id := range f.Ints {
			set[id] = true
			present[id] = true
		}
		var missing []int64
		for id := range acked {
			if !set[id] {
				missing = append(missing, id)
				lost[id] = true
			}
		}
		if len(missing) > 0 {
			sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
			v.add(Anomaly{Kind: "lost", Key: f.Node, Ops: []int{f.Index},
				Message: fmt.Sprintf("final read through %s lacks %d acknowledged ids: %s", f.Node, len(missing), ids(missing))})
		}
	}
	v.Stats["lost"] = int64(len(lost))
	v.Stats["final-reads"] = int64(len(finals))
	recovered := 0
	for id := range indeterminate {
		if _, ok := acked[id]; !ok && present[id] {
			recovered++
		}
	}
	v.Stats["indeterminate-recovered"] = int64(recovered)
	return v
}
