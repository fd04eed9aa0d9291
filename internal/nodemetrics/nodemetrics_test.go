package nodemetrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/node/alerting"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store/points"
)

type fakeRaft struct{}

func (fakeRaft) Status() cluster.Status {
	return cluster.Status{State: "Follower", Term: 7, LastIndex: 42, CommitIndex: 41, AppliedIndex: 40}
}
func (fakeRaft) SkippedEntries() uint64 { return 1 }
func (fakeRaft) LeaderChanges() uint64  { return 3 }

type fakeAlerts struct{}

func (fakeAlerts) Deliveries() alerting.Deliveries {
	return alerting.Deliveries{Delivered: 5, Retrying: 2, Failed: 1}
}

type fakeQueue struct{}

func (fakeQueue) Lag() (int, int64, time.Duration) { return 4, 1024, 1500 * time.Millisecond }
func (fakeQueue) Counters() alerting.QueueCounters {
	return alerting.QueueCounters{Evaluated: 9, Retries: 1}
}

type fakePoints struct{}

func (fakePoints) DiskSize() (int64, int64) { return 1000, 10 }
func (fakePoints) Levels() []points.LevelStats {
	return []points.LevelStats{{Level: 0, Tables: 3, Bytes: 3 << 20, Score: 1.5}, {Level: 1, Tables: 7, Bytes: 14 << 20}}
}
func (fakePoints) WriterStats() points.WriterStats {
	return points.WriterStats{Commits: 4, Points: 8000, Runs: 400, Busy: 1500 * time.Millisecond, Lingers: 3}
}

type fakeMeta struct{}

func (fakeMeta) CurrentAge() time.Duration { return 2 * time.Second }

type fakeHints struct{}

func (fakeHints) Status() []replication.HintQueueStatus {
	return []replication.HintQueueStatus{{Target: "n2", Hints: 3, Bytes: 300}}
}
func (fakeHints) DiskSize() int64 { return 4096 }

type fakeReplication struct{}

func (fakeReplication) RepairStatus() replication.RepairStatus { return replication.RepairStatus{} }
func (fakeReplication) Counters() replication.Counters         { return replication.Counters{} }

func clustered() Sources {
	return Sources{
		Raft: fakeRaft{}, Alerts: fakeAlerts{}, Queue: fakeQueue{}, Points: fakePoints{},
		Metadata: fakeMeta{}, Hints: fakeHints{}, Replication: fakeReplication{},
		Servers: func() int { return 3 },
		Members: func() []cluster.Member {
			return []cluster.Member{{State: cluster.Alive}, {State: cluster.Alive}, {State: cluster.Dead}}
		},
	}
}

// TestCollectorReportsWhatItsSourcesSay: each figure is read from its
// source at the scrape, under its documented name and labels.
func TestCollectorReportsWhatItsSourcesSay(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(clustered()))
	want := `
# HELP dakkio_raft_state 1 for this node's Raft state (Leader, Follower, Candidate, Shutdown).
# TYPE dakkio_raft_state gauge
dakkio_raft_state{state="Candidate"} 0
dakkio_raft_state{state="Follower"} 1
dakkio_raft_state{state="Leader"} 0
dakkio_raft_state{state="Shutdown"} 0
# HELP dakkio_gossip_members Gossip members by state (alive, suspect, dead, left).
# TYPE dakkio_gossip_members gauge
dakkio_gossip_members{state="alive"} 2
dakkio_gossip_members{state="dead"} 1
dakkio_gossip_members{state="left"} 0
dakkio_gossip_members{state="suspect"} 0
# HELP dakkio_alert_eval_lag_seconds How long the oldest batch waiting for alert rule evaluation has waited (0 when none waits).
# TYPE dakkio_alert_eval_lag_seconds gauge
dakkio_alert_eval_lag_seconds 1.5
# HELP dakkio_metadata_confirmed_age_seconds Seconds since this node last confirmed with the leader that it had applied every committed metadata change; past the key lease it refuses API keys until it confirms again.
# TYPE dakkio_metadata_confirmed_age_seconds gauge
dakkio_metadata_confirmed_age_seconds 2
# HELP dakkio_store_lsm_tables Tables in each level of the points store's LSM tree (level 0 holds the memtables' flushes; too many there stall writes).
# TYPE dakkio_store_lsm_tables gauge
dakkio_store_lsm_tables{level="0"} 3
dakkio_store_lsm_tables{level="1"} 7
# HELP dakkio_store_lsm_bytes Bytes of the tables in each level of the points store's LSM tree.
# TYPE dakkio_store_lsm_bytes gauge
dakkio_store_lsm_bytes{level="0"} 3.145728e+06
dakkio_store_lsm_bytes{level="1"} 1.4680064e+07
# HELP dakkio_store_lsm_compaction_score How far past its target size each level of the points store's LSM tree is, once 1 or more (the level is due a compaction); 0 below.
# TYPE dakkio_store_lsm_compaction_score gauge
dakkio_store_lsm_compaction_score{level="0"} 1.5
dakkio_store_lsm_compaction_score{level="1"} 0
# HELP dakkio_disk_bytes Bytes on disk by store (points LSM and value log, hints).
# TYPE dakkio_disk_bytes gauge
dakkio_disk_bytes{store="hints"} 4096
dakkio_disk_bytes{store="points_lsm"} 1000
dakkio_disk_bytes{store="points_vlog"} 10
# HELP dakkio_hinted_handoff_hints Writes queued on this node for a replica that missed them.
# TYPE dakkio_hinted_handoff_hints gauge
dakkio_hinted_handoff_hints{target="n2"} 3
# HELP dakkio_store_group_commits_total Transactions the points store's writer committed since start; each takes every write queued while the one before committed.
# TYPE dakkio_store_group_commits_total counter
dakkio_store_group_commits_total 4
# HELP dakkio_store_group_commit_points_total Points in the writer's group commits since start: divided by commits, how many points one transaction carries.
# TYPE dakkio_store_group_commit_points_total counter
dakkio_store_group_commit_points_total 8000
# HELP dakkio_store_group_commit_runs_total Runs (one source's points in one hour, stored as one piece) the writer's group commits wrote since start.
# TYPE dakkio_store_group_commit_runs_total counter
dakkio_store_group_commit_runs_total 400
# HELP dakkio_store_group_commit_lingers_total Group commits that waited, at most a millisecond, for writes announced to be on their way.
# TYPE dakkio_store_group_commit_lingers_total counter
dakkio_store_group_commit_lingers_total 3
# HELP dakkio_store_writer_busy_seconds_total Time the points store's writer spent committing since start; a rate near 1 means writes queue behind it.
# TYPE dakkio_store_writer_busy_seconds_total counter
dakkio_store_writer_busy_seconds_total 1.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"dakkio_raft_state", "dakkio_gossip_members", "dakkio_alert_eval_lag_seconds",
		"dakkio_metadata_confirmed_age_seconds", "dakkio_disk_bytes", "dakkio_hinted_handoff_hints",
		"dakkio_store_group_commits_total", "dakkio_store_group_commit_points_total",
		"dakkio_store_group_commit_runs_total", "dakkio_store_group_commit_lingers_total",
		"dakkio_store_writer_busy_seconds_total", "dakkio_store_lsm_tables", "dakkio_store_lsm_bytes",
		"dakkio_store_lsm_compaction_score"); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		// A count of source-hours, not a duration: the linter reads a
		// unit into the name.
		if p.Metric != "dakkio_repair_hours_total" {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// TestCollectorOfALoneNode: without a key lease or hints to read, the
// confirmed age and the hints' bytes are 0, not a missing source's panic.
func TestCollectorOfALoneNode(t *testing.T) {
	src := clustered()
	src.Metadata, src.Hints = nil, nil
	src.Members = func() []cluster.Member { return nil }
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(src))
	want := `
# HELP dakkio_metadata_confirmed_age_seconds Seconds since this node last confirmed with the leader that it had applied every committed metadata change; past the key lease it refuses API keys until it confirms again.
# TYPE dakkio_metadata_confirmed_age_seconds gauge
dakkio_metadata_confirmed_age_seconds 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "dakkio_metadata_confirmed_age_seconds"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(New(src), "dakkio_hinted_handoff_hints"); n != 0 {
		t.Fatalf("a lone node reports %d hint queues", n)
	}
}
