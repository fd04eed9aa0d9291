package checker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/jepsen/history"
)

// h numbers ops and fills End from Start when it is missing.
func h(ops ...history.Op) []history.Op {
	for i := range ops {
		ops[i].Index = i
		if ops[i].End == 0 {
			ops[i].End = ops[i].Start + 1
		}
	}
	return ops
}

func ms(n int64) int64 { return n * int64(time.Millisecond) }

func add(typ string, start, end int64, xs ...int64) history.Op {
	return history.Op{F: "add", Type: typ, Start: start, End: end, Ints: xs}
}

func read(f, node string, start, end int64, xs ...int64) history.Op {
	return history.Op{F: f, Type: history.OK, Node: node, Start: start, End: end, Ints: xs}
}

func wantKinds(t *testing.T, v *Verdict, valid bool, kinds ...string) {
	t.Helper()
	if v.Valid != valid {
		t.Fatalf("valid = %v, want %v; anomalies %+v", v.Valid, valid, v.Anomalies)
	}
	got := strings.Join(v.AnomalyKinds(), ",")
	if want := strings.Join(kinds, ","); got != want {
		t.Fatalf("anomaly kinds = %q, want %q (%+v)", got, want, v.Anomalies)
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		name  string
		ops   []history.Op
		valid bool
		kinds []string
	}{
		{"correct", h(
			add(history.OK, 0, 10, 1, 2),
			add(history.Info, 5, 50, 3),
			add(history.Fail, 6, 7, 4),
			read("read", "n1", 20, 30, 1, 2),
			read("read", "n2", 60, 70, 1, 2, 3),
			read("final-read", "n1", 100, 110, 1, 2, 3),
			read("final-read", "n2", 100, 110, 1, 2, 3),
		), true, nil},
		{"indeterminate may be missing", h(
			add(history.OK, 0, 10, 1),
			add(history.Info, 0, 10, 2),
			read("final-read", "n1", 100, 110, 1),
		), true, nil},
		{"lost write", h(
			add(history.OK, 0, 10, 1, 2),
			read("final-read", "n1", 100, 110, 1, 2),
			read("final-read", "n2", 100, 110, 1),
		), false, []string{"lost"}},
		{"duplicate", h(
			add(history.OK, 0, 10, 1, 2),
			read("read", "n3", 20, 30, 1, 2, 2),
			read("final-read", "n1", 100, 110, 1, 2),
		), false, []string{"duplicated"}},
		{"flicker", h(
			add(history.OK, 0, 10, 1, 2),
			read("read", "n1", 20, 30, 1, 2),
			read("read", "n2", 40, 50, 1),
			read("final-read", "n1", 100, 110, 1, 2),
		), false, []string{"flicker"}},
		{"concurrent reads do not flicker", h(
			add(history.OK, 0, 10, 1, 2),
			read("read", "n1", 20, 45, 1, 2),
			read("read", "n2", 40, 50, 1),
			read("final-read", "n1", 100, 110, 1, 2),
		), true, nil},
		{"unacknowledged flicker is a note", h(
			add(history.Info, 0, 10, 1),
			read("read", "n1", 20, 30, 1),
			read("read", "n2", 40, 50),
			read("final-read", "n1", 100, 110),
		), true, nil},
		{"unexpected", h(
			add(history.OK, 0, 10, 1),
			read("final-read", "n1", 100, 110, 1, 99),
		), false, []string{"unexpected"}},
		{"failed write read back", h(
			add(history.OK, 0, 10, 1),
			add(history.Fail, 0, 10, 2),
			read("final-read", "n1", 100, 110, 1, 2),
		), false, []string{"revived"}},
		{"no final read", h(
			add(history.OK, 0, 10, 1),
			history.Op{F: "final-read", Type: history.Info, Node: "n1", Start: 100, End: 110},
		), false, []string{"no-final-read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKinds(t, Set(tt.ops), tt.valid, tt.kinds...)
		})
	}
}

func reg(process int, f, key string, typ string, start, end int64, value string, found bool) history.Op {
	return history.Op{Process: process, F: f, Key: key, Type: typ, Start: start, End: end, Value: value, Found: found}
}

func TestRegister(t *testing.T) {
	tests := []struct {
		name  string
		ops   []history.Op
		valid bool
	}{
		{"sequential", h(
			reg(0, "create", "b1", history.OK, 0, 10, "a", false),
			reg(1, "read", "b1", history.OK, 20, 30, "a", true),
			reg(0, "write", "b1", history.OK, 40, 50, "b", false),
			reg(1, "read", "b1", history.OK, 60, 70, "b", true),
			reg(0, "delete", "b1", history.OK, 80, 90, "", false),
			reg(1, "read", "b1", history.OK, 100, 110, "", false),
			reg(2, "write", "b1", history.Fail, 120, 130, "c", false),
			reg(2, "delete", "b1", history.Fail, 140, 150, "", false),
		), true},
		{"concurrent read may see either", h(
			reg(0, "create", "b1", history.OK, 0, 10, "a", false),
			reg(0, "write", "b1", history.OK, 20, 50, "b", false),
			reg(1, "read", "b1", history.OK, 30, 40, "a", true),
			reg(2, "read", "b1", history.OK, 31, 41, "b", true),
		), true},
		{"stale read", h(
			reg(0, "create", "b1", history.OK, 0, 10, "a", false),
			reg(0, "write", "b1", history.OK, 20, 30, "b", false),
			reg(1, "read", "b1", history.OK, 40, 50, "a", true),
		), false},
		{"read of a deleted bucket", h(
			reg(0, "create", "b1", history.OK, 0, 10, "a", false),
			reg(0, "delete", "b1", history.OK, 20, 30, "", false),
			reg(1, "read", "b1", history.OK, 40, 50, "a", true),
		), false},
		{"non-monotonic reads", h(
			reg(0, "create", "b1", history.OK, 0, 10, "a", false),
			reg(0, "write", "b1", history.Info, 20, 30, "b", false),
			reg(1, "read", "b1", history.OK, 40, 50, "b", true),
			reg(2, "read", "b1", history.OK, 60, 70, "a", true),
		), false},
		{"indeterminate write may land late", h(
			reg(0, "create", "b1", history.OK, 0, 10, "a", false),
			reg(0, "write", "b1", history.Info, 20, 30, "b", false),
			reg(1, "read", "b1", history.OK, 40, 50, "a", true),
			reg(2, "read", "b1", history.OK, 60, 70, "b", true),
		), true},
		{"indeterminate write may never land", h(
			reg(0, "create", "b1", history.OK, 0, 10, "a", false),
			reg(0, "write", "b1", history.Info, 20, 30, "b", false),
			reg(1, "read", "b1", history.OK, 60, 70, "a", true),
		), true},
		{"keys are independent", h(
			reg(0, "create", "b1", history.OK, 0, 10, "a", false),
			reg(1, "create", "b2", history.OK, 0, 10, "x", false),
			reg(0, "read", "b1", history.OK, 20, 30, "a", true),
			reg(1, "read", "b2", history.OK, 20, 30, "x", true),
		), true},
		{"create conflict on an existing bucket", h(
			reg(0, "create", "b1", history.OK, 0, 10, "a", false),
			reg(1, "create", "b1", history.Fail, 20, 30, "z", false),
		), true},
		{"create conflict on an absent bucket", h(
			reg(1, "create", "b1", history.Fail, 20, 30, "z", false),
		), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			html := filepath.Join(t.TempDir(), "register.html")
			v := Register(tt.ops, 10*time.Second, html)
			if v.Valid != tt.valid {
				t.Fatalf("valid = %v, want %v (%+v)", v.Valid, tt.valid, v)
			}
			if !tt.valid && v.AnomalyKinds()[0] != "nonlinearizable" {
				t.Fatalf("kinds = %v", v.AnomalyKinds())
			}
			if fi, err := os.Stat(html); err != nil || fi.Size() == 0 {
				t.Fatalf("no timeline written: %v", err)
			}
		})
	}
}

func TestRevocation(t *testing.T) {
	lease := 5 * time.Second
	use := func(typ string, start int64) history.Op {
		return history.Op{F: "use", Key: "k1", Node: "n2", Type: typ, Start: start, End: start + ms(5)}
	}
	revoke := history.Op{F: "revoke", Key: "k1", Type: history.OK, Start: ms(900), End: ms(1000)}
	tests := []struct {
		name  string
		ops   []history.Op
		valid bool
	}{
		{"refused after the lease", h(use(history.OK, ms(500)), revoke, use(history.OK, ms(1500)), use(history.Fail, ms(6100)), use(history.Info, ms(7000))), true},
		{"accepted after the lease", h(use(history.OK, ms(500)), revoke, use(history.OK, ms(6100))), false},
		{"revoke not acknowledged", h(history.Op{F: "revoke", Key: "k1", Type: history.Info, Start: ms(900), End: ms(1000)}, use(history.OK, ms(9000))), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Revocation(tt.ops, lease)
			if tt.valid {
				wantKinds(t, v, true)
			} else {
				wantKinds(t, v, false, "accepted-after-lease")
			}
		})
	}
}

func TestCounter(t *testing.T) {
	cfg := CounterConfig{Limit: 10, Interval: time.Second}
	call := func(node, typ string, status int, start int64) history.Op {
		return history.Op{F: "call", Node: node, Type: typ, Status: status, Start: start, End: start + ms(2)}
	}
	// calls spreads n admitted calls over nodes n1..n3, 400 ms apart.
	calls := func(n int, typ string, status int, from int64) []history.Op {
		var out []history.Op
		for i := range n {
			out = append(out, call([]string{"n1", "n2", "n3"}[i%3], typ, status, from+ms(int64(400*i))))
		}
		return out
	}
	// kills SIGKILLs n1..n3 at each time.
	kills := func(at ...int64) []history.Op {
		var out []history.Op
		for _, t := range at {
			out = append(out, history.Op{Process: history.NemesisProcess, F: "kill", Type: history.OK, Value: "n1,n2,n3", Start: t, End: t + ms(50)})
		}
		return out
	}
	upgrade := history.Op{F: "upgrade", Type: history.OK, Start: ms(100_000), End: ms(100_100)}
	usage := func(n int64) history.Op {
		return history.Op{F: "usage", Node: "n1", Type: history.OK, N: n, Start: ms(110_000), End: ms(110_010)}
	}
	build := func(parts ...[]history.Op) []history.Op {
		var all []history.Op
		for _, p := range parts {
			all = append(all, p...)
		}
		return h(all...)
	}
	tests := []struct {
		name  string
		ops   []history.Op
		kinds []string
	}{
		{"exact", build(calls(10, history.OK, 200, 0), calls(5, history.Fail, 429, ms(10_000)),
			[]history.Op{upgrade, usage(11)}), nil},
		{"within the bound", build(calls(11, history.OK, 200, 0), calls(5, history.Fail, 429, ms(10_000)),
			[]history.Op{upgrade, usage(12)}), nil},
		{"indeterminate calls may count", build(calls(9, history.OK, 200, 0), calls(3, history.Info, 0, ms(5000)),
			[]history.Op{upgrade, usage(12)}), nil},
		{"overshoot", build(calls(20, history.OK, 200, 0), []history.Op{upgrade, usage(21)}), []string{"overshoot"}},
		{"lost counted calls", build(calls(10, history.OK, 200, 0), []history.Op{upgrade, usage(7)}), []string{"usage-undercount"}},
		{"crash may lose one interval", build(calls(10, history.OK, 200, 0),
			[]history.Op{{Process: history.NemesisProcess, F: "kill", Type: history.OK, Value: "n1,n2,n3", Start: ms(3700), End: ms(3800)},
				upgrade, usage(8)}), nil},
		{"crashes forget unshipped counts, which are admitted again", build(calls(20, history.OK, 200, 0),
			kills(ms(900), ms(2100), ms(3300), ms(4500)), []history.Op{upgrade, usage(12)}), nil},
		{"overcount", build(calls(10, history.OK, 200, 0), []history.Op{upgrade, usage(15)}), []string{"usage-overcount"}},
		{"no usage", build(calls(10, history.OK, 200, 0), []history.Op{upgrade}), []string{"no-usage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKinds(t, Counter(tt.ops, cfg), len(tt.kinds) == 0, tt.kinds...)
		})
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	r, err := history.NewRecorder(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Add(history.Op{F: "add", Type: history.OK, Ints: []int64{1, 2}})
	r.Add(history.Op{F: "read", Type: history.OK, Ints: []int64{1}, Node: "n1"})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	ops, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[1].Index != 1 || ops[1].Node != "n1" || len(ops[0].Ints) != 2 {
		t.Fatalf("read back %+v", ops)
	}
}
