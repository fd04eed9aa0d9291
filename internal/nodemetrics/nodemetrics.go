// Package nodemetrics is the Prometheus collector of a node's state: Raft,
// gossip, hinted handoff, repair, replication, alert evaluation and disk. It
// reads each number at scrape time from the part that owns it, through the
// interfaces of Sources, so that the node only wires it. The HTTP server
// counts requests and points itself (httpapi/metrics.go).
package nodemetrics

import (
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/node/alerting"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store/points"
)

// Sources are the parts of a node the collector reads. Metadata and Hints
// are nil on a lone node; everything else is required.
type Sources struct {
	Raft interface {
		Status() cluster.Status
		SkippedEntries() uint64
		LeaderChanges() uint64
	}
	Alerts interface{ Deliveries() alerting.Deliveries }
	Queue  interface {
		Lag() (queued int, bytes int64, oldest time.Duration)
		Counters() alerting.QueueCounters
	}
	Points interface {
		DiskSize() (lsm, vlog int64)
		WriterStats() points.WriterStats
		Levels() []points.LevelStats
	}
	Metadata interface{ CurrentAge() time.Duration }
	Hints    interface {
		Status() []replication.HintQueueStatus
		DiskSize() int64
	}
	Replication interface {
		RepairStatus() replication.RepairStatus
		Counters() replication.Counters
	}
	// Servers counts the Raft servers; Members is gossip's view of the
	// cluster, none on a lone node.
	Servers func() int
	Members func() []cluster.Member
}

// Collector is a prometheus.Collector over Sources.
type Collector struct{ src Sources }

// New returns the collector of src.
func New(src Sources) *Collector { return &Collector{src: src} }

// allDescs lists every desc made by desc, for Describe.
var allDescs []*prometheus.Desc

func desc(name, help string, labels ...string) *prometheus.Desc {
	d := prometheus.NewDesc("dakkio_"+name, help, labels, nil)
	allDescs = append(allDescs, d)
	return d
}

var (
	descRaftState        = desc("raft_state", "1 for this node's Raft state (Leader, Follower, Candidate, Shutdown).", "state")
	descRaftTerm         = desc("raft_term", "Current Raft term.")
	descRaftLastIndex    = desc("raft_last_index", "Last index in this node's Raft log.")
	descRaftCommitIndex  = desc("raft_commit_index", "Raft commit index as this node knows it.")
	descRaftAppliedIndex = desc("raft_applied_index", "Last Raft index applied to this node's metadata.")
	descRaftSkipped      = desc("raft_entries_skipped_total", "Committed Raft log entries this node could not decode or apply and skipped as no-ops since start (each is logged).")
	descLeaderChanges    = desc("raft_leader_changes_seen_total", "Changes of Raft leader this node has observed since it started.")
	descBuildInfo        = desc("build_info", "Always 1: the version, VCS revision and Go version of this binary.", "version", "revision", "goversion")
	descWebhookAttempts  = desc("webhook_delivery_attempts_total", "Webhook delivery attempts this node made (alert rules' webhookUrl and /api/webhooks subscriptions), by outcome (delivered, retrying, failed, blocked).", "outcome")
	descRaftServers      = desc("raft_servers", "Servers in the Raft configuration.")
	descGossipMembers    = desc("gossip_members", "Gossip members by state (alive, suspect, dead, left).", "state")
	descHints            = desc("hinted_handoff_hints", "Writes queued on this node for a replica that missed them.", "target")
	descHintBytes        = desc("hinted_handoff_bytes", "Bytes queued on this node for a replica.", "target")
	descHintsDropped     = desc("hinted_handoff_dropped_total", "Hints dropped (queue full or too old) since start; repair copies those points.", "target")
	descHintsReplayed    = desc("hinted_handoff_replayed_total", "Hints delivered since start.", "target")
	descRepairPasses     = desc("repair_passes_total", "Anti-entropy passes completed since start.")
	descRepairRunning    = desc("repair_running", "1 while a repair pass runs.")
	descRepairBuckets    = desc("repair_pass_buckets", "Buckets of the current (or last) repair pass, by progress.", "progress")
	descRepairHours      = desc("repair_hours_total", "Source-hours compared and repaired since start.", "result")
	descRepairPoints     = desc("repair_points_repaired_total", "Points copied from other replicas by repair since start.")
	descMovedAway        = desc("moved_away_copies_dropped_total", "Copies of buckets moved to other replicas that this node deleted since start.")
	descCurrentAge       = desc("metadata_confirmed_age_seconds", "Seconds since this node last confirmed with the leader that it had applied every committed metadata change; past the key lease it refuses API keys until it confirms again.")
	descBucketsBehind    = desc("buckets_behind", "Buckets whose copy on this node may miss acknowledged writes until repair has run.")
	descReplWrites       = desc("replicated_writes_total", "Writes this node coordinated, by outcome (acknowledged, unavailable).", "outcome")
	descReplicaWrites    = desc("replica_writes_total", "Replicated batches this node stored for other coordinators.")
	descReads            = desc("replicated_reads_total", "Reads by event: failover (a replica failed or was out of sync), hedge (a slow replica), partial (answered partial).", "event")
	descGroupCommits     = desc("store_group_commits_total", "Transactions the points store's writer committed since start; each takes every write queued while the one before committed.")
	descGroupPoints      = desc("store_group_commit_points_total", "Points in the writer's group commits since start: divided by commits, how many points one transaction carries.")
	descGroupRuns        = desc("store_group_commit_runs_total", "Runs (one source's points in one hour, stored as one piece) the writer's group commits wrote since start.")
	descGroupLingers     = desc("store_group_commit_lingers_total", "Group commits that waited, at most a millisecond, for writes announced to be on their way.")
	descWriterBusy       = desc("store_writer_busy_seconds_total", "Time the points store's writer spent committing since start; a rate near 1 means writes queue behind it.")
	descLSMTables        = desc("store_lsm_tables", "Tables in each level of the points store's LSM tree (level 0 holds the memtables' flushes; too many there stall writes).", "level")
	descLSMBytes         = desc("store_lsm_bytes", "Bytes of the tables in each level of the points store's LSM tree.", "level")
	descLSMScore         = desc("store_lsm_compaction_score", "How far past its target size each level of the points store's LSM tree is, once 1 or more (the level is due a compaction); 0 below.", "level")
	descDiskBytes        = desc("disk_bytes", "Bytes on disk by store (points LSM and value log, hints).", "store")
	descEvalQueued       = desc("alert_eval_queue_writes", "Written batches stored and acknowledged on this node that wait for alert rule evaluation.")
	descEvalQueueBytes   = desc("alert_eval_queue_bytes", "Bytes of the batches waiting for alert rule evaluation.")
	descEvalLag          = desc("alert_eval_lag_seconds", "How long the oldest batch waiting for alert rule evaluation has waited (0 when none waits).")
	descEvalDone         = desc("alert_eval_writes_total", "Queued batches evaluated since start.")
	descEvalRetries      = desc("alert_eval_retries_total", "Evaluations that failed (a trigger not recorded, points unreadable) and were retried, since start.")
	descEvalDropped      = desc("alert_eval_dropped_total", "Batches stored without alert evaluation because the evaluation queue was full, since start.")
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	rs := s.Raft.Status()
	for _, s := range []string{"Leader", "Follower", "Candidate", "Shutdown"} {
		v := 0.0
		if rs.State == s {
			v = 1
		}
		gauge(descRaftState, v, s)
	}
	gauge(descRaftTerm, float64(rs.Term))
	gauge(descRaftLastIndex, float64(rs.LastIndex))
	gauge(descRaftCommitIndex, float64(rs.CommitIndex))
	gauge(descRaftAppliedIndex, float64(rs.AppliedIndex))
	counter(descRaftSkipped, float64(s.Raft.SkippedEntries()))
	counter(descLeaderChanges, float64(s.Raft.LeaderChanges()))
	gauge(descBuildInfo, 1, buildInfo()...)
	d := s.Alerts.Deliveries()
	counter(descWebhookAttempts, float64(d.Delivered), "delivered")
	counter(descWebhookAttempts, float64(d.Retrying), "retrying")
	counter(descWebhookAttempts, float64(d.Failed), "failed")
	counter(descWebhookAttempts, float64(d.Blocked), "blocked")
	gauge(descRaftServers, float64(s.Servers()))

	queued, qbytes, lag := s.Queue.Lag()
	gauge(descEvalQueued, float64(queued))
	gauge(descEvalQueueBytes, float64(qbytes))
	gauge(descEvalLag, lag.Seconds())
	qc := s.Queue.Counters()
	counter(descEvalDone, float64(qc.Evaluated))
	counter(descEvalRetries, float64(qc.Retries))
	counter(descEvalDropped, float64(qc.Dropped))

	ws := s.Points.WriterStats()
	counter(descGroupCommits, float64(ws.Commits))
	counter(descGroupPoints, float64(ws.Points))
	counter(descGroupRuns, float64(ws.Runs))
	counter(descGroupLingers, float64(ws.Lingers))
	counter(descWriterBusy, ws.Busy.Seconds())
	for _, l := range s.Points.Levels() {
		level := strconv.Itoa(l.Level)
		gauge(descLSMTables, float64(l.Tables), level)
		gauge(descLSMBytes, float64(l.Bytes), level)
		gauge(descLSMScore, l.Score, level)
	}
	lsm, vlog := s.Points.DiskSize()
	gauge(descDiskBytes, float64(lsm), "points_lsm")
	gauge(descDiskBytes, float64(vlog), "points_vlog")
	// A single node has no gossip, hints or peers, but every family is
	// there from the start, at 0, so dashboards and alerts need no special
	// case for it.
	states := map[string]int{"alive": 0, "suspect": 0, "dead": 0, "left": 0}
	for _, m := range s.Members() {
		switch m.State {
		case cluster.Alive:
			states["alive"]++
		case cluster.Suspect:
			states["suspect"]++
		case cluster.Dead:
			states["dead"]++
		default:
			states["left"]++
		}
	}
	for s, v := range states {
		gauge(descGossipMembers, float64(v), s)
	}
	age := 0.0 // a single node confirms with nobody
	if s.Metadata != nil {
		age = s.Metadata.CurrentAge().Seconds()
	}
	gauge(descCurrentAge, age)
	hintBytes := int64(0)
	if s.Hints != nil {
		for _, q := range s.Hints.Status() {
			gauge(descHints, float64(q.Hints), q.Target)
			gauge(descHintBytes, float64(q.Bytes), q.Target)
			counter(descHintsDropped, float64(q.Dropped), q.Target)
			counter(descHintsReplayed, float64(q.Replayed), q.Target)
		}
		hintBytes = s.Hints.DiskSize()
	}
	gauge(descDiskBytes, float64(hintBytes), "hints")
	st := s.Replication.RepairStatus()
	counter(descRepairPasses, float64(st.Passes))
	running := 0.0
	if st.Running {
		running = 1
	}
	gauge(descRepairRunning, running)
	gauge(descRepairBuckets, float64(st.BucketsTotal), "total")
	gauge(descRepairBuckets, float64(st.BucketsDone), "done")
	counter(descRepairHours, float64(st.HoursCompared), "compared")
	counter(descRepairHours, float64(st.HoursRepaired), "repaired")
	counter(descRepairPoints, float64(st.PointsRepaired))
	counter(descMovedAway, float64(st.MovedAwayDropped))
	gauge(descBucketsBehind, float64(st.BucketsBehind))
	rc := s.Replication.Counters()
	counter(descReplWrites, float64(rc.WritesAcked), "acknowledged")
	counter(descReplWrites, float64(rc.WritesUnavailable), "unavailable")
	counter(descReplicaWrites, float64(rc.ReplicaWrites))
	counter(descReads, float64(rc.ReadFailovers), "failover")
	counter(descReads, float64(rc.ReadHedges), "hedge")
	counter(descReads, float64(rc.PartialReads), "partial")
}

// buildInfo labels dakkio_build_info: the module version ("(devel)" for a
// build from a checkout), the VCS revision Go stamped into the binary (""
// when built without one, as by go test) and the Go version.
func buildInfo() []string {
	version, revision := "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	return []string{version, revision, runtime.Version()}
}
