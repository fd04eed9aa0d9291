package checker

import (
	"fmt"

	"github.com/dakkio/dakkio/jepsen/history"
)

// Backup checks the backup workload: points are added as in the set
// workload ("add"); a backup is taken during the faults ("backup", the
// last ok one counts), restored into a fresh cluster ("restore") and the
// restored bucket read through each of its nodes ("restored-read").
//
// Anomalies:
//   - lost-in-backup: a point acknowledged before the backup began is
//     missing from a restored read;
//   - unexpected: a restored read returned an id no client wrote;
//   - revived: a restored read returned an id whose write was refused (4xx);
//   - no-backup, restore-failed, no-restored-read: the run could not
//     decide (no backup completed, the restore failed, no read succeeded).
func Backup(ops []history.Op) *Verdict {
	v := newVerdict("backup")
	var backup, restore *history.Op
	attempted, failed := map[int64]bool{}, map[int64]bool{}
	ackedAt := map[int64]int64{}
	addOp := map[int64]int{}
	var reads []history.Op
	var nemesis []history.Op
	for i := range ops {
		if ops[i].Process == history.NemesisProcess {
			nemesis = append(nemesis, ops[i])
		}
		op := ops[i]
		switch op.F {
		case "add":
			for _, id := range op.Ints {
				attempted[id] = true
				addOp[id] = op.Index
				switch op.Type {
				case history.OK:
					if t, ok := ackedAt[id]; !ok || op.End < t {
						ackedAt[id] = op.End
					}
				case history.Fail:
					failed[id] = true
				}
			}
		case "backup":
			v.Stats["backup:"+op.Type]++
			if op.Type == history.OK {
				backup = &ops[i]
			}
		case "restore":
			if op.Type == history.OK {
				restore = &ops[i]
			} else {
				v.add(Anomaly{Kind: "restore-failed", Ops: []int{op.Index}, Message: "restoring the backup into a fresh cluster failed: " + op.Error})
			}
		case "restored-read":
			v.Stats["restored-read:"+op.Type]++
			if op.Type == history.OK {
				reads = append(reads, op)
			}
		}
	}
	for id := range ackedAt {
		delete(failed, id)
	}
	if backup == nil {
		v.Unknown = true
		v.add(Anomaly{Kind: "no-backup", Message: "no backup completed during the run"})
		return v
	}
	v.Stats["backup-points"] = backup.N
	// Was a fault in force when the backup began? (The last nemesis entry
	// before it was a fault, not a heal.)
	var last *history.Op
	for i := range nemesis {
		if nemesis[i].End <= backup.Start {
			last = &nemesis[i]
		}
	}
	if last != nil && last.F != "heal" {
		v.Stats["backup-began-under-fault"] = 1
	} else {
		v.note("the backup that completed began with no fault in force (strict backups refused while replicas were behind)")
	}
	if restore == nil {
		if v.Stats["anomaly:restore-failed"] == 0 {
			v.add(Anomaly{Kind: "restore-failed", Message: "the backup was never restored"})
		}
		v.Unknown = true
		return v
	}
	v.Stats["restored-points"] = restore.N
	var before []int64
	for id, t := range ackedAt {
		if t < backup.Start {
			before = append(before, id)
		}
	}
	v.Stats["acknowledged-before-backup"] = int64(len(before))
	v.Stats["acknowledged"] = int64(len(ackedAt))
	if len(reads) == 0 {
		v.Unknown = true
		v.add(Anomaly{Kind: "no-restored-read", Message: "no read of the restored cluster succeeded"})
		return v
	}
	for _, r := range reads {
		got := make(map[int64]bool, len(r.Ints))
		unexpected, revived := map[int64]bool{}, map[int64]bool{}
		for _, id := range r.Ints {
			got[id] = true
			if !attempted[id] {
				unexpected[id] = true
			}
			if failed[id] {
				revived[id] = true
			}
		}
		lost := map[int64]bool{}
		for _, id := range before {
			if !got[id] {
				lost[id] = true
			}
		}
		if len(lost) > 0 {
			v.Stats["lost-in-backup"] += int64(len(lost))
			v.add(Anomaly{Kind: "lost-in-backup", Key: r.Node, Ops: []int{backup.Index, r.Index},
				Message: fmt.Sprintf("restored %s lacks %d points acknowledged before the backup began (op %d): %s", r.Node, len(lost), backup.Index, ids(sortedInt64s(lost)))})
		}
		if len(unexpected) > 0 {
			v.add(Anomaly{Kind: "unexpected", Key: r.Node, Ops: []int{r.Index},
				Message: fmt.Sprintf("restored %s returned ids no client wrote: %s", r.Node, ids(sortedInt64s(unexpected)))})
		}
		if len(revived) > 0 {
			v.add(Anomaly{Kind: "revived", Key: r.Node, Ops: []int{r.Index},
				Message: fmt.Sprintf("restored %s returned ids refused with a 4xx: %s", r.Node, ids(sortedInt64s(revived)))})
		}
	}
	v.Stats["restored-reads"] = int64(len(reads))
	return v
}
