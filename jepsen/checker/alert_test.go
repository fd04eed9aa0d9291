package checker

import (
	"testing"

	"github.com/dakkio/dakkio/jepsen/history"
)

// alertOps: ids 1..100 acknowledged, 101..110 indeterminate, 111..120
// refused; deliveries as given (point id, delivery id, taken).
type delivery struct {
	id    int64
	key   string
	taken bool
}

func alertOps(ds ...delivery) []history.Op {
	var ops []history.Op
	add := func(from, to int64, typ string) {
		for id := from; id <= to; id++ {
			ops = append(ops, history.Op{Process: 1, F: "add", Type: typ, Ints: []int64{id}})
		}
	}
	add(1, 100, history.OK)
	add(101, 110, history.Info)
	add(111, 120, history.Fail)
	for _, d := range ds {
		typ := history.OK
		if !d.taken {
			typ = history.Fail
		}
		ops = append(ops, history.Op{Process: alertReceiverProcessForTest, F: "delivery", Type: typ, Key: d.key, Ints: []int64{d.id}})
	}
	for i := range ops {
		ops[i].Index = i
	}
	return ops
}

const alertReceiverProcessForTest = 2000

// everyTrigger delivers each acknowledged triggering point once.
func everyTrigger() []delivery {
	var ds []delivery
	for id := int64(10); id <= 100; id += 10 {
		ds = append(ds, delivery{id, "d" + string(rune('a'+id/10)), true})
	}
	return ds
}

func TestAlertValidWithRetriesUnderOneID(t *testing.T) {
	ds := append(everyTrigger(),
		delivery{20, "dc", false}, delivery{20, "dc", true}, // refused then retried: same id
		delivery{110, "dx", true}, // an indeterminate point that met the rule
	)
	v := Alert(alertOps(ds...))
	if !v.Valid {
		t.Fatalf("verdict %+v, want valid", v)
	}
	if v.Stats["points-taken-more-than-once"] != 1 || v.Stats["acknowledged-triggering"] != 10 {
		t.Errorf("stats %v", v.Stats)
	}
	if AlertID(AlertValue(30)) != 30 || AlertID(AlertValue(31)) != 31 || AlertTriggers(31) {
		t.Error("AlertValue and AlertID do not round-trip")
	}
}

func TestAlertCatchesEachBrokenPromise(t *testing.T) {
	for _, c := range []struct {
		name string
		ds   []delivery
		want string
	}{
		{"undelivered", everyTrigger()[1:], "undelivered"},
		{"only refused", append(everyTrigger()[1:], delivery{10, "db", false}), "undelivered"},
		{"not meeting the rule", append(everyTrigger(), delivery{33, "dz", true}), "spurious"},
		{"never written", append(everyTrigger(), delivery{5000, "dz", true}), "spurious"},
		{"refused write", append(everyTrigger(), delivery{120, "dz", true}), "spurious"},
		{"two ids for one point", append(everyTrigger(), delivery{10, "other", true}), "unrecognisable-duplicate"},
		{"one id for two points", append(everyTrigger(), delivery{110, "db", true}), "delivery-id-reused"},
		{"no delivery id", append(everyTrigger(), delivery{110, "", true}), "bad-delivery"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := Alert(alertOps(c.ds...))
			if v.Valid || v.Stats["anomaly:"+c.want] == 0 {
				t.Fatalf("verdict valid=%v kinds %v, want %s", v.Valid, v.AnomalyKinds(), c.want)
			}
		})
	}
}
