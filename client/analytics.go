package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Analytics periods for BucketAnalytics.
const (
	Period24h = "24h"
	Period7d  = "7d"
	Period30d = "30d"
	Period90d = "90d"
)

// Ref names a resource: its id and name.
type Ref struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
}

// AnalyticsOverview summarizes an organization (AnalyticsOverview).
type AnalyticsOverview struct {
	Organization   Ref              `json:"organization"`
	Totals         OverviewTotals   `json:"totals"`
	Usage          OverviewUsage    `json:"usage"`
	Plan           OverviewPlan     `json:"plan"`
	RecentActivity OverviewActivity `json:"recentActivity"`
}

// OverviewTotals counts what an organization holds.
type OverviewTotals struct {
	Buckets     int   `json:"buckets"`
	DataSources int   `json:"dataSources"`
	DataPoints  int64 `json:"dataPoints"`
	AlertRules  int   `json:"alertRules"`
	APIKeys     int   `json:"apiKeys"`
}

// OverviewUsage is an organization's use of its plan this month.
type OverviewUsage struct {
	APICallsThisMonth int64 `json:"apiCallsThisMonth"`
	// APICallsLimit is -1 when the plan is unlimited.
	APICallsLimit int64 `json:"apiCallsLimit"`
	// APICallsPercentage is of APICallsLimit, 0 when unlimited.
	APICallsPercentage float64 `json:"apiCallsPercentage"`
	// StorageUsedBytes is an estimate of the bytes the points take on disk.
	StorageUsedBytes     int64  `json:"storageUsedBytes"`
	StorageUsedFormatted string `json:"storageUsedFormatted"`
}

// OverviewPlan is an organization's plan; -1 means unlimited.
type OverviewPlan struct {
	Name             string `json:"name"`
	MaxBuckets       int    `json:"maxBuckets"`
	MaxRetentionDays int    `json:"maxRetentionDays"`
	MaxAPICalls      int64  `json:"maxApiCalls"`
}

// OverviewActivity is an organization's recent activity; the times are nil
// when there is nothing to tell.
type OverviewActivity struct {
	LastDataIngestion      *time.Time `json:"lastDataIngestion"`
	LastAlertTriggered     *time.Time `json:"lastAlertTriggered"`
	DataPointsLast24h      int64      `json:"dataPointsLast24h"`
	AlertsTriggeredLast24h int        `json:"alertsTriggeredLast24h"`
}

// BucketAnalytics describes a bucket over a period (BucketAnalytics).
type BucketAnalytics struct {
	Bucket          Ref               `json:"bucket"`
	Period          string            `json:"period"`
	Summary         BucketSummary     `json:"summary"`
	DataSourceStats []DataSourceStats `json:"dataSourceStats"`
	IngestionRate   IngestionRate     `json:"ingestionRate"`
	AlertActivity   AlertActivity     `json:"alertActivity"`
}

// BucketSummary counts a bucket's points, sources and active rules.
type BucketSummary struct {
	TotalDataPoints     int64   `json:"totalDataPoints"`
	DataPointsInPeriod  int64   `json:"dataPointsInPeriod"`
	AvgDataPointsPerDay float64 `json:"avgDataPointsPerDay"`
	DataSources         int     `json:"dataSources"`
	ActiveAlerts        int     `json:"activeAlerts"`
}

// DataSourceStats summarizes one source over the period. The value maps
// hold each numeric field's aggregate (a null, which only an overflowing
// average gives, reads as 0).
type DataSourceStats struct {
	ID             string `json:"_id"`
	Name           string `json:"name"`
	DataPointCount int64  `json:"dataPointCount"`
	// LastDataPoint is the time of the source's newest point, nil if none.
	LastDataPoint *time.Time         `json:"lastDataPoint"`
	AvgValues     map[string]float64 `json:"avgValues"`
	MinValues     map[string]float64 `json:"minValues"`
	MaxValues     map[string]float64 `json:"maxValues"`
}

// IngestionRate is a bucket's points per hour over the period.
type IngestionRate struct {
	// DataPointsPerHour has the hours holding points, ascending.
	DataPointsPerHour []HourCount `json:"dataPointsPerHour"`
}

// HourCount is how many points fall in the hour starting at Hour.
type HourCount struct {
	Hour  time.Time `json:"hour"`
	Count int64     `json:"count"`
}

// AlertActivity counts a bucket's alert triggers over the period.
type AlertActivity struct {
	TotalTriggered int `json:"totalTriggered"`
	// ByRule lists every rule of the bucket, in creation order.
	ByRule []RuleCount `json:"byRule"`
}

// RuleCount is how often a rule triggered.
type RuleCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// AnalyticsOverview summarizes the key's organization (admin key).
func (c *Client) AnalyticsOverview(ctx context.Context) (*AnalyticsOverview, error) {
	return callFor[AnalyticsOverview](ctx, c, http.MethodGet, "/api/analytics/overview", nil)
}

// BucketAnalytics describes a bucket over period, one of Period24h,
// Period7d, Period30d and Period90d; "" lets the server choose (7d). Any
// key with access to the bucket may ask.
func (c *Client) BucketAnalytics(ctx context.Context, bucketID, period string) (*BucketAnalytics, error) {
	path := "/api/analytics/buckets/" + url.PathEscape(bucketID)
	if period != "" {
		path += "?" + url.Values{"period": {period}}.Encode()
	}
	return callFor[BucketAnalytics](ctx, c, http.MethodGet, path, nil)
}
