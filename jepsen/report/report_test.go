package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/jepsen/checker"
	"github.com/dakkio/dakkio/jepsen/history"
)

// synthetic is a run of 20 s: adds every 100 ms, a partition from 5 s to
// 9 s during which calls time out, a kill from 14 s that is never healed.
func synthetic() []history.Op {
	var ops []history.Op
	s := int64(time.Second)
	for t := int64(0); t < 20*s; t += s / 10 {
		op := history.Op{Process: 1, F: "add", Type: history.OK, Start: t, End: t + 3*int64(time.Millisecond)}
		if t >= 5*s && t < 9*s {
			op.Type, op.End = history.Info, t+int64(800*time.Millisecond)
		}
		ops = append(ops, op, history.Op{Process: 2, F: "read", Type: history.Fail, Start: t, End: t + int64(time.Millisecond)})
	}
	ops = append(ops,
		history.Op{Process: history.NemesisProcess, F: "partition", Type: history.OK, Value: "n1-x-{n2}", Start: 5 * s, End: 5*s + 1},
		history.Op{Process: history.NemesisProcess, F: "heal", Type: history.OK, Start: 9 * s, End: 9 * s},
		history.Op{Process: history.NemesisProcess, F: "kill", Type: history.OK, Value: "n3", Start: 14 * s, End: 14 * s},
	)
	return ops
}

func TestFaultWindowsPairFaultsWithHeals(t *testing.T) {
	w := FaultWindows(synthetic(), 20)
	if len(w) != 2 {
		t.Fatalf("windows = %+v, want 2", w)
	}
	if w[0].From != 5 || w[0].To != 9 || !strings.Contains(w[0].Fault, "partition n1-x-{n2}") {
		t.Errorf("first window = %+v, want the partition from 5 s to 9 s", w[0])
	}
	if w[1].From != 14 || w[1].To != 20 || !strings.Contains(w[1].Fault, "kill n3") {
		t.Errorf("second window = %+v, want the unhealed kill from 14 s to the end", w[1])
	}
}

func TestWritePageIsSelfContainedWithShadedPlots(t *testing.T) {
	dir := t.TempDir()
	v := &checker.Verdict{Checker: "set", Valid: false, Stats: map[string]int64{"lost": 1},
		Anomalies: []checker.Anomaly{{Kind: "lost", Message: "id <7> acknowledged and lost"}}}
	path := filepath.Join(dir, "report.html")
	err := WritePage(path, Run{Row: Row{Workload: "set", Nemesis: "partition-halves", Seed: 7, OK: 150, Info: 40, Fail: 200, Anomalies: "lost (1)"},
		Reproduce: "go run ./jepsen run --seed 7", Verdicts: []*checker.Verdict{v}, Ops: synthetic(), ConfigJSON: `{"seed":7}`})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if n := strings.Count(page, "<svg"); n != 2 {
		t.Errorf("page has %d inline SVGs, want 2 (latency, throughput)", n)
	}
	// The fault windows are drawn as translucent fills of faultFill.
	if !strings.Contains(page, "fill-opacity") {
		t.Error("no translucent fill: the fault windows are not shaded")
	}
	for _, want := range []string{"FAIL", "add ok (160)", "add info (40)", "read fail (200)", "id &lt;7&gt; acknowledged and lost", "partition n1-x-{n2}", "kill n3"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, outside := range []string{"<script src", "<link", "src=\"http", "@import", "url(http"} {
		if strings.Contains(page, outside) {
			t.Errorf("page loads an outside asset (%q)", outside)
		}
	}
}

func TestWriteIndexLinksEveryRun(t *testing.T) {
	dir := t.TempDir()
	rows := []Row{
		{Workload: "set", Nemesis: "kill", Seed: 1, Valid: true, Link: "r1/report.html", Anomalies: "none"},
		{Workload: "aggregate", Nemesis: "clock", Seed: 2, Valid: false, Link: "r2/report.html", Anomalies: "mismatch (2)"},
	}
	path := filepath.Join(dir, "index.html")
	if err := WriteIndex(path, "matrix", rows, time.Minute); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	page := string(b)
	for _, want := range []string{`href="r1/report.html"`, `href="r2/report.html"`, "1 of 2 runs passed", "mismatch (2)"} {
		if !strings.Contains(page, want) {
			t.Errorf("index lacks %q", want)
		}
	}
}

// TestWritePageOfARunWithNoOperations: a run stopped before its first
// call (interrupted, or its cluster never formed) still gets a page, with
// empty plots; gonum's log axis once panicked on it.
func TestWritePageOfARunWithNoOperations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	err := WritePage(path, Run{Row: Row{Workload: "set", Nemesis: "mixed", Seed: 7}, Reproduce: "go run ./jepsen run --seed 7"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "<svg"); n != 2 {
		t.Errorf("page has %d inline SVGs, want 2", n)
	}
}
