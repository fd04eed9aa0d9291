package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(config) bool
	}{
		{"defaults with --binary run both phases", []string{"--binary", "b"}, "",
			func(c config) bool {
				return c.cluster && !c.clusterOnly && c.clusterPoints == 5_000_000 && c.consistency == "quorum"
			}},
		{"cluster off", []string{"--binary", "b", "--cluster=false"}, "", func(c config) bool { return !c.cluster }},
		{"cluster only", []string{"--binary", "b", "--cluster-only"}, "", func(c config) bool { return c.cluster && c.clusterOnly }},
		{"--addr skips the cluster", []string{"--addr", "http://h:1", "--key", "k"}, "", func(c config) bool { return !c.cluster }},
		{"--addr with --cluster", []string{"--addr", "http://h:1", "--key", "k", "--cluster"}, "go with --binary", nil},
		{"--addr with --cluster-only", []string{"--addr", "http://h:1", "--key", "k", "--cluster-only"}, "go with --binary", nil},
		{"nothing to run", []string{"--binary", "b", "--cluster-only", "--cluster=false"}, "nothing to run", nil},
		{"no cluster points", []string{"--binary", "b", "--cluster-points", "0"}, "--cluster-points", nil},
		{"server's consistency", []string{"--binary", "b", "--consistency", ""}, "", func(c config) bool { return c.consistency == "" }},
		{"bad consistency", []string{"--binary", "b", "--consistency", "most"}, "--consistency", nil},
		{"node flags", []string{"--binary", "b", "--sync-writes", "--node-args", " --memory-limit  512MiB ", "--rules", "100"}, "",
			func(c config) bool {
				f := c.nodeFlags()
				return c.rules == 100 && len(f) == 3 && f[0] == "--sync-writes" && f[1] == "--memory-limit" && f[2] == "512MiB"
			}},
		{"--sync-writes with --addr", []string{"--addr", "http://h:1", "--key", "k", "--sync-writes"}, "go with --binary", nil},
		{"negative rules", []string{"--binary", "b", "--rules", "-1"}, "--rules", nil},
		{"remote write", []string{"--binary", "b", "--protocol", "rw"}, "", func(c config) bool { return c.protocol == "rw" }},
		{"mqtt", []string{"--binary", "b", "--protocol", "mqtt"}, "", func(c config) bool { return c.protocol == "mqtt" }},
		{"mqtt with --addr", []string{"--addr", "http://h:1", "--key", "k", "--protocol", "mqtt"}, "goes with --binary", nil},
		{"unknown protocol", []string{"--binary", "b", "--protocol", "otlp"}, "--protocol", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseFlags(tt.args, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags: %v (%s)", err, stderr.String())
			}
			if !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

// TestQuickRun is the CI smoke run: both phases, a few thousand points,
// against a dakkio built from this tree, and the raw query compared with a
// stand-in for VictoriaMetrics (fakeVM).
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dakkio and starts four nodes")
	}
	bin := filepath.Join(t.TempDir(), "dakkio")
	if out, err := exec.Command("go", "build", "-o", bin, "../dakkio").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"--binary", bin, "--tmp-dir", t.TempDir(), "--sources", "10", "--days", "1",
		"--max-points", "20000", "--cluster-points", "5000", "--queries", "2", "--rules", "2", "--idle", "1s",
		"--vm-addr", newFakeVM(t).URL}
	if code := run("dakkio-bench", args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		`(?m)^         20,000 points: 10 sources × 3 fields`, // --max-points of a day's 86,400
		`(?m)^         5,000 points: 10 sources × 3 fields, .* spread over the 3 nodes \(3, 3, 2\)$`,
		`(?m)^ingest values +[0-9,]+ values/s`,
		`(?m)^cluster ingest values +[0-9,]+ values/s`,
		`(?m)^cluster / single ingest +[0-9.]+ \(`,
		`(?m)^node peak RSS, ingest and settle +[0-9.]+ MiB \(anon .*; VmHWM [0-9.]+ MiB`,
		`(?m)^node RSS above 384.0 MiB, sampled every 100ms +[0-9.]+% of the samples \([0-9,]+ of [0-9,]+\); p90 [0-9.]+ MiB, p99 [0-9.]+ MiB`,
		`(?m)^write amplification, ingest to settle +[0-9.]+ \(`,
		`(?m)^alert rules on the bucket +2 `,
		`(?m)^query \(a\) raw, 1000 points of one source +1,000 rows +[0-9.]+ ms`,
		`(?m)^query \(a\) the same from VictoriaMetrics /api/v1/export \(3 series × 1000 samples\) +1,000 rows +[0-9.]+ ms`,
		`(?m)^query \(a\) raw again, after VictoriaMetrics' turn, 1000 points of one source +1,000 rows +[0-9.]+ ms`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "WRONG") {
		t.Errorf("wrong answers:\n%s", out)
	}
}

func TestRSSAboveAndQuantile(t *testing.T) {
	var samples []memSample
	for _, mib := range []int64{300, 390, 100, 384, 385, 200, 250, 310, 330, 500} {
		samples = append(samples, memSample{m: procMem{rss: mib << 20}})
	}
	if n := rssAbove(samples, 384<<20); n != 3 { // 390, 385, 500; 384 is not above
		t.Errorf("rssAbove = %d, want 3", n)
	}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.5, 310}, {0.9, 390}, {0.99, 500}, {1, 500}, {0, 100}} {
		if got := rssQuantile(samples, c.q); got != c.want<<20 {
			t.Errorf("rssQuantile(%v) = %d MiB, want %d", c.q, got>>20, c.want)
		}
	}
	if got := rssQuantile(nil, 0.99); got != 0 {
		t.Errorf("rssQuantile(nil) = %d, want 0", got)
	}
}
