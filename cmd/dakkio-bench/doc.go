// Command dakkio-bench is the load generator behind `make bench`: it ingests a
// sensor workload into one dakkio node over HTTP, queries it back, then
// ingests into a local 3-node cluster, and prints a table of throughput,
// latency and bytes on disk per point against the targets.
//
// The workload (the defaults) is 100 data sources with 3 number fields
// (temperature, humidity, pressure), one point per source every 10 seconds
// over the last 60 days: 51,840,000 points, 155,520,000 values. Each reading
// is a random walk around a base picked per source, rounded to one or two
// decimals, so the values look like a sensor's and compress like one's, not
// like a counter's; everything follows from --seed. Timestamps end at the
// current minute. Points go out in time order (each tick: every source), in
// batches of 1000 on POST /api/data/batch, over 8 keep-alive connections, one
// per worker.
//
// After the ingest the bench waits until the bucket's dataPointCount equals
// the points sent, then measures the points directory: the .sst files alone,
// and every file as allocated on disk, as du counts (Badger preallocates its
// value-log and memtable files sparse; the total also holds fixed overhead,
// about 1 MiB, which only a small run notices). Then it runs each query kind
// --queries times, one at a time on one connection, with ingest idle:
//
//	(a)  raw: 1000 consecutive points of one source (filters.limit 1000)
//	(b)  avg per hour over 30 days of one source (259,200 points, 720 rows)
//	(c)  max per day over the whole range of one source
//	(c') the same over every source
//
// then, with --promql (the default), Prometheus range queries over the
// last 30 days at a 1 h step (issue 17; promql.go): avg_over_time(<field>[1h])
// of one source (target p50 10 ms), avg by (bucket) of it over every
// source (100 ms), and one query repeated with the result cache off
// (nocache=1) and on.
//
// With --vm-addr URL, the bench then feeds a running VictoriaMetrics the
// single node's points (InfluxDB line protocol on /write, a series per
// source and field) and reads query (a)'s windows, the same ones, from its
// /api/v1/export on one keep-alive connection (vm.go): issue 13's raw-read
// comparison, one more row of the table. Then it runs query (a) on the node
// again, over other windows (the next seed): the node's first
// queries run while its restart's compactions do, VictoriaMetrics' after
// its feed has merged, and this last row compares the two at rest.
//
// Every answer is checked: row counts, and for aggregates the sum of the
// rows' counts against the points in the range; a wrong answer fails the run.
// The table also gives the CPU time the bench and (with --binary) the node
// spent on the ingest, and the load average before the run: they share the
// machine, so a busy host shows there rather than as a slow server.
//
// With --binary the bench starts `dakkio serve` itself in a fresh directory,
// on free 127.0.0.1 ports, with a generated initial admin key, and stops it
// with SIGTERM on the way out (also on errors and Ctrl-C); the directory is
// removed unless --keep. Between ingest and queries it stops the node, so
// that its memtables are flushed to .sst files before the directory is
// measured, and restarts it on the same directory. With --addr and --key it
// drives a running node instead, measuring disk in place only if --data-dir
// names that node's data directory; there the newest points may still sit in
// memtable files rather than .sst files, and other buckets count too.
//
// With --binary the bench also watches the single node's process (Linux
// /proc): its resident memory every 0.1 s from the start of the ingest to
// the settle (VmRSS, split into anonymous and file-backed pages; the table
// gives the peak and VmHWM against the target of 384 MiB, the share of the
// samples above it with the 90th and 99th percentiles, and the RSS every
// 10 s),
// its RSS again after --idle of no load (default 30s: an idle node gives
// memory back), and the bytes it wrote to storage, /proc/<pid>/io
// write_bytes from the start of the ingest to the settle, and from its
// rusage over its whole life (the flush and compactions on stop included).
// Write amplification is those bytes over the points' own bytes: 8 for a
// point's time and 8 for each of its values (32 bytes a point with 3
// fields); keys, source IDs and JSON do not count. --sync-writes starts the
// single node with --sync-writes; --node-args adds other serve flags to it.
// --rules N creates N alert rules on the bucket before the ingest, spread
// over the sources, whose condition ("temperature is greater than
// 1000000000") no reading meets and whose webhook (http://receiver.invalid/x)
// is therefore never called: the difference to a run without is the cost
// of evaluating rules on the write path.
//
// The cluster phase (with --binary, unless --cluster=false) follows once the
// single node has stopped: three `dakkio serve` on free 127.0.0.1 ports,
// each with its own directory, a generated cluster key, --bootstrap-expect 3
// and --replication-factor 3, node2 and node3 joining node1's gossip
// address. It ingests the last --cluster-points of the same workload (5
// million by default, so that `make bench` stays within minutes) into a new
// bucket, each write asking ?consistency=quorum (--consistency; empty
// leaves it to the nodes' --write-consistency), with the --conns connections
// spread over the nodes (3, 3 and 2 of the 8), and waits until every node's
// dataPointCount equals the points sent. The table gives both rates in
// values/s, the points each phase ingested, and the ratio cluster / single
// against its target of 0.3: each point is stored by all three nodes on the
// same cores. --cluster-only skips the single node; the ratio needs both.
//
//	make bench                                     # the full workload
//	make bench BENCH_FLAGS='--sources 10 --days 2' # a quick run
//	make bench BENCH_FLAGS='--max-points 200000'   # CI smoke: both phases, seconds
//	make bench BENCH_FLAGS='--max-points 5000000'  # 5 M points in each phase
//	make bench BENCH_FLAGS='--cluster=false --max-points 4000000 --sync-writes'
//	make bench BENCH_FLAGS='--cluster=false --max-points 4000000 --rules 100'
//	go run ./cmd/dakkio-bench --addr http://127.0.0.1:8080 --key dakkio_a_...
//
// --max-points caps the ingest of both phases to the workload's last ticks
// (rounded down to whole ticks), so queries still find data at the end of
// the range. TestQuickRun runs both phases on a few thousand points.
package main
