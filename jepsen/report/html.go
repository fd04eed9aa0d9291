package report

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"time"

	"github.com/dakkio/dakkio/jepsen/checker"
	"github.com/dakkio/dakkio/jepsen/history"
)

// Row is a run's line of the summary table: its counts, latency and verdict.
type Row struct {
	Workload, Nemesis string
	Seed              uint64
	OK, Fail, Info    int
	Availability      float64 // 0..1
	P50, P99          time.Duration
	Anomalies         string // "none" or "lost (3), ..."
	Valid             bool
	// Link is the run's page, relative to the page that lists it.
	Link string
}

// Run is everything a run's page shows.
type Run struct {
	Row
	Elapsed   time.Duration
	Reproduce string // the command that runs it again
	Errors    []string
	Verdicts  []*checker.Verdict
	Ops       []history.Op
	// ConfigJSON is the run's config.json, shown as is.
	ConfigJSON string
}

type windowView struct {
	From, To, Fault string
}

type runView struct {
	Run
	Latency, Throughput template.HTML
	Windows             []windowView
	PlotError           string
	Generated           string
}

// WritePage writes the run's self-contained HTML report to path.
func WritePage(path string, r Run) error {
	end := 0.0
	for _, op := range r.Ops {
		end = max(end, seconds(op.End))
	}
	windows := FaultWindows(r.Ops, end)
	v := runView{Run: r, Generated: time.Now().UTC().Format(time.RFC3339)}
	for _, w := range windows {
		v.Windows = append(v.Windows, windowView{From: fmt.Sprintf("%.2f", w.From), To: fmt.Sprintf("%.2f", w.To), Fault: w.Fault})
	}
	// A plot that cannot be drawn leaves the rest of the report useful.
	if svg, err := LatencySVG(r.Ops, windows, end); err != nil {
		v.PlotError = err.Error()
	} else {
		v.Latency = template.HTML(svg) // drawn by gonum/plot from our own numbers
	}
	if svg, err := ThroughputSVG(r.Ops, windows, end); err != nil {
		v.PlotError = err.Error()
	} else {
		v.Throughput = template.HTML(svg)
	}
	return writeTemplate(path, runPage, v)
}

// WriteIndex writes a page listing runs, each linking to its page.
func WriteIndex(path, title string, rows []Row, elapsed time.Duration) error {
	pass := 0
	for _, r := range rows {
		if r.Valid {
			pass++
		}
	}
	return writeTemplate(path, indexPage, map[string]any{
		"Title": title, "Rows": rows, "Pass": pass, "Elapsed": elapsed.Round(time.Second),
		"Generated": time.Now().UTC().Format(time.RFC3339),
	})
}

func writeTemplate(path string, t *template.Template, data any) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("cannot render %s: %w", filepath.Base(path), err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

var funcs = template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"ms":  func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}

const style = `<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:80em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;font-size:.9em}
th{background:#f3f3f3}.pass{color:#070;font-weight:bold}.fail{color:#b00;font-weight:bold}
pre{background:#f6f6f6;padding:.5em;overflow:auto;font-size:.85em}svg{max-width:100%;height:auto}
.anomaly{color:#b00}.note{color:#555}
</style>`

var runPage = template.Must(template.New("run").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Workload}} × {{.Nemesis}} seed {{.Seed}}</title>` + style + `</head><body>
<h1>{{.Workload}} × {{.Nemesis}}, seed {{.Seed}}: {{if .Valid}}<span class="pass">PASS</span>{{else}}<span class="fail">FAIL</span>{{end}}</h1>
<table><tr><th>ok</th><th>fail</th><th>info</th><th>availability</th><th>p50</th><th>p99</th><th>anomalies</th><th>elapsed</th></tr>
<tr><td>{{.OK}}</td><td>{{.Fail}}</td><td>{{.Info}}</td><td>{{pct .Availability}}</td><td>{{ms .P50}}</td><td>{{ms .P99}}</td><td>{{.Anomalies}}</td><td>{{ms .Elapsed}}</td></tr></table>
<p>Reproduce: <code>{{.Reproduce}}</code></p>
{{range .Errors}}<p class="fail">harness error: {{.}}</p>{{end}}
<h2>Plots</h2>
{{if .PlotError}}<p class="fail">plot: {{.PlotError}}</p>{{end}}
{{.Latency}}
{{.Throughput}}
<h2>Checkers</h2>
{{range .Verdicts}}<h3>{{.Checker}}: {{if .Valid}}<span class="pass">valid</span>{{else}}<span class="fail">INVALID</span>{{end}}</h3>
<table>{{range $k, $v := .Stats}}<tr><td>{{$k}}</td><td>{{$v}}</td></tr>{{end}}</table>
{{if .Anomalies}}<ul>{{range .Anomalies}}<li class="anomaly"><b>{{.Kind}}</b> {{.Message}} (ops {{.Ops}})</li>{{end}}</ul>{{end}}
{{if .Notes}}<ul>{{range .Notes}}<li class="note">{{.}}</li>{{end}}</ul>{{end}}
{{end}}
<h2>Faults</h2>
{{if .Windows}}<table><tr><th>from (s)</th><th>to (s)</th><th>fault</th></tr>
{{range .Windows}}<tr><td>{{.From}}</td><td>{{.To}}</td><td>{{.Fault}}</td></tr>{{end}}</table>{{else}}<p>none</p>{{end}}
<h2>Configuration</h2><pre>{{.ConfigJSON}}</pre>
<p>Files: <a href="summary.md">summary.md</a>, <a href="history.jsonl">history.jsonl</a>, <a href="nemesis.log">nemesis.log</a>, <a href="nodes/">nodes/</a>{{if eq .Workload "register"}}, <a href="register.html">register.html</a>{{end}}. Generated {{.Generated}}.</p>
</body></html>
`))

var indexPage = template.Must(template.New("index").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>` + style + `</head><body>
<h1>{{.Title}}</h1>
<p>{{.Pass}} of {{len .Rows}} runs passed in {{.Elapsed}}. Generated {{.Generated}}.</p>
<table><tr><th>workload</th><th>nemesis</th><th>seed</th><th>ok</th><th>fail</th><th>info</th><th>availability</th><th>p50</th><th>p99</th><th>anomalies</th><th>verdict</th></tr>
{{range .Rows}}<tr><td>{{.Workload}}</td><td>{{.Nemesis}}</td><td>{{.Seed}}</td><td>{{.OK}}</td><td>{{.Fail}}</td><td>{{.Info}}</td><td>{{pct .Availability}}</td><td>{{ms .P50}}</td><td>{{ms .P99}}</td><td>{{.Anomalies}}</td>
<td><a href="{{.Link}}">{{if .Valid}}<span class="pass">PASS</span>{{else}}<span class="fail">FAIL</span>{{end}}</a></td></tr>
{{end}}</table>
</body></html>
`))
