package promapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needBinary returns the path of a test tool, failing (not skipping) with
// the Debian package to install when it is missing.
func needBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: apt-get install -y %s (make test installs it)", name, pkg)
	}
	return p
}

// TestPromtool drives Debian's promtool against a node: query range with
// the key as a header, query instant, series and labels with the key as
// URL-embedded basic-auth credentials.
func TestPromtool(t *testing.T) {
	bin := needBinary(t, "promtool", "prometheus")
	now := time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()
	f := newFixture(t, []fixtureSeries{
		regular("tool", "s1", "temperature", now-3600_000, now, 60_000, func(int64) float64 { return 21.5 }),
		regular("tool", "s2", "temperature", now-3600_000, now, 60_000, func(int64) float64 { return 18 }),
	})
	u, err := url.Parse(f.n.URL)
	if err != nil {
		t.Fatal(err)
	}
	withCreds := *u
	withCreds.User = url.UserPassword("grafana", f.n.AdminKey)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	out := run("query", "range", "-o", "json", "--header=X-API-Key="+f.n.AdminKey,
		"--start="+secs(now-30*60_000), "--end="+secs(now-60_000), "--step=5m", f.n.URL, `avg by (source) (temperature)`)
	var matrix []struct {
		Metric map[string]string `json:"metric"`
		Values [][]any           `json:"values"`
	}
	if err := json.Unmarshal([]byte(out), &matrix); err != nil || len(matrix) != 2 {
		t.Fatalf("query range: %v\n%s", err, out)
	}
	for _, s := range matrix {
		want := map[string]string{"s1": "21.5", "s2": "18"}[s.Metric["source"]]
		if len(s.Values) != 6 || s.Values[0][1] != want {
			t.Errorf("query range: series %v: %v, want 6 values of %s", s.Metric, s.Values, want)
		}
	}

	out = run("query", "instant", "-o", "json", "--time="+secs(now-60_000), withCreds.String(), `temperature{source="s1"} * 2`)
	var vec []struct {
		Metric map[string]string `json:"metric"`
		Value  []any             `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &vec); err != nil || len(vec) != 1 || vec[0].Value[1] != "43" || vec[0].Metric["source"] != "s1" {
		t.Fatalf("query instant: %v\n%s", err, out)
	}

	out = run("query", "series", "--match=temperature", withCreds.String())
	for _, want := range []string{`source="s1"`, `source="s2"`, `bucket="tool"`} {
		if !strings.Contains(out, want) {
			t.Errorf("query series: no %s in\n%s", want, out)
		}
	}
	out = run("query", "labels", withCreds.String(), "source")
	if strings.Fields(out)[0] != "s1" || strings.Fields(out)[1] != "s2" {
		t.Errorf("query labels source: %q", out)
	}

	// A wrong password is refused.
	bad := *u
	bad.User = url.UserPassword("grafana", "dakkio_a_"+strings.Repeat("0", 40))
	cmd := exec.Command(bin, "query", "labels", bad.String(), "source")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("promtool with a wrong key succeeded: %s", out)
	}
}
