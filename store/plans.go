package store

import "time"

// Quota is an organization's allowance of API calls this month, as a node
// counts it (cluster.Meter.Quota) and the API shows it in its X-RateLimit
// headers.
type Quota struct {
	Limit     int64 // -1: unlimited
	Remaining int64 // -1: unlimited
	Reset     time.Time
	// RetryAfter, when set, is how soon a refused call may succeed: the
	// quota is not spent, but this node waits for the others' counts.
	RetryAfter time.Duration
}

// PlanLimits are what a plan allows an organization. Zero means unlimited for
// the counts; MaxAPICalls is -1 when unlimited.
type PlanLimits struct {
	MaxAPICalls      int64 `json:"maxApiCalls"`      // per calendar month (UTC)
	MaxBuckets       int   `json:"maxBuckets"`       // buckets in the organization
	MaxDataSources   int   `json:"maxDataSources"`   // data sources in the organization
	MaxRetentionDays int   `json:"maxRetentionDays"` // a bucket's retentionDays
}

// DefaultPlans are the plans a node uses unless configured otherwise.
var DefaultPlans = map[string]PlanLimits{
	PlanFree:       {MaxAPICalls: 10_000, MaxBuckets: 3, MaxDataSources: 10, MaxRetentionDays: 30},
	PlanPro:        {MaxAPICalls: 1_000_000, MaxBuckets: 100, MaxDataSources: 1_000, MaxRetentionDays: 365},
	PlanEnterprise: {MaxAPICalls: -1, MaxBuckets: 0, MaxDataSources: 0, MaxRetentionDays: 3650},
}
