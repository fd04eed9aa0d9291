// Package report renders a chaos-suite run as one self-contained HTML page:
// the verdicts, the fault timeline, and SVG plots (drawn by gonum/plot) of
// each operation's latency over time and of throughput, with the nemesis's
// fault windows shaded. It also writes the index page of a matrix, linking
// every run's page. The pages load nothing from outside.
package report
