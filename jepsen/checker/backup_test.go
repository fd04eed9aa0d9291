package checker

import (
	"testing"

	"github.com/dakkio/dakkio/jepsen/history"
)

// backupOps: ids 1..50 acknowledged before the backup (start 1000), 51..60
// after it, 61 refused; one restored read returning got.
func backupOps(got []int64) []history.Op {
	var ops []history.Op
	for id := int64(1); id <= 60; id++ {
		end := int64(500)
		if id > 50 {
			end = 2000
		}
		ops = append(ops, history.Op{F: "add", Type: history.OK, Ints: []int64{id}, Start: end - 10, End: end})
	}
	ops = append(ops,
		history.Op{F: "add", Type: history.Fail, Ints: []int64{61}, Start: 100, End: 200},
		history.Op{F: "backup", Type: history.Info, Start: 800, End: 900},
		history.Op{F: "backup", Type: history.OK, Start: 1000, End: 3000, N: 55},
		history.Op{F: "restore", Type: history.OK, Start: 4000, End: 5000, N: 55},
		history.Op{F: "restored-read", Type: history.OK, Node: "n1", Ints: got, Start: 6000, End: 7000})
	for i := range ops {
		ops[i].Index = i
	}
	return ops
}

func TestBackupHoldsWhatWasAcknowledgedBefore(t *testing.T) {
	got := idRange(1, 56) // 1..55: some written during the backup, not all
	v := Backup(backupOps(got))
	if !v.Valid || v.Stats["acknowledged-before-backup"] != 50 {
		t.Fatalf("verdict %+v, want valid with 50 acknowledged before", v)
	}
}

func TestBackupCatchesLostUnexpectedRevived(t *testing.T) {
	for _, c := range []struct {
		name string
		got  []int64
		want string
	}{
		{"lost", idRange(2, 51), "lost-in-backup"},
		{"unexpected", append(idRange(1, 51), 999), "unexpected"},
		{"revived", append(idRange(1, 51), 61), "revived"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if v := Backup(backupOps(c.got)); v.Valid || v.Stats["anomaly:"+c.want] == 0 {
				t.Fatalf("kinds %v, want %s", v.AnomalyKinds(), c.want)
			}
		})
	}
	ops := backupOps(idRange(1, 51))
	var noBackup []history.Op
	for _, op := range ops {
		if op.F != "backup" {
			noBackup = append(noBackup, op)
		}
	}
	if v := Backup(noBackup); v.Valid || !v.Unknown {
		t.Fatalf("no backup: verdict %+v, want unknown", v)
	}
}
