package client_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
)

func TestAnalyticsRequests(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name                string
		call                func(*client.Client) error
		method, path, query string
	}{
		{"overview", func(c *client.Client) error { _, err := c.AnalyticsOverview(ctx); return err },
			"GET", "/api/analytics/overview", ""},
		{"bucket, server's default period", func(c *client.Client) error { _, err := c.BucketAnalytics(ctx, "b1", ""); return err },
			"GET", "/api/analytics/buckets/b1", ""},
		{"bucket, period", func(c *client.Client) error { _, err := c.BucketAnalytics(ctx, "b1", client.Period30d); return err },
			"GET", "/api/analytics/buckets/b1", "period=30d"},
		{"bucket id and period escaped", func(c *client.Client) error { _, err := c.BucketAnalytics(ctx, "a/b c", "7d&x=1"); return err },
			"GET", "/api/analytics/buckets/a%2Fb%20c", "period=7d%26x%3D1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, got := fake(t, 200, `{"data":{},"metadata":{}}`, client.WithAPIKey("dakkio_r_key"), client.WithOperatorToken("optok"))
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			r := last(t, got)
			if r.method != tt.method || r.path != tt.path || r.query != tt.query || r.body != "" {
				t.Errorf("sent %s %s?%s %q, want %s %s?%s", r.method, r.path, r.query, r.body, tt.method, tt.path, tt.query)
			}
			if key, tok := r.header.Get("X-API-Key"), r.header.Get("X-Operator-Token"); key != "dakkio_r_key" || tok != "" {
				t.Errorf("sent key %q token %q", key, tok)
			}
		})
	}
}

func TestAnalyticsDecode(t *testing.T) {
	ctx := context.Background()
	ts := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	t.Run("overview", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":{"organization":{"_id":"o1","name":"acme"},
			"totals":{"buckets":3,"dataSources":4,"dataPoints":3057,"alertRules":2,"apiKeys":5},
			"usage":{"apiCallsThisMonth":24,"apiCallsLimit":10000,"apiCallsPercentage":0.24,"storageUsedBytes":214507,"storageUsedFormatted":"209.5 KB"},
			"plan":{"name":"free","maxBuckets":3,"maxRetentionDays":30,"maxApiCalls":10000},
			"recentActivity":{"lastDataIngestion":"2024-01-15T10:30:00.25Z","lastAlertTriggered":null,"dataPointsLast24h":2233,"alertsTriggeredLast24h":0}},
			"metadata":{}}`)
		got, err := c.AnalyticsOverview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := client.AnalyticsOverview{
			Organization: client.Ref{ID: "o1", Name: "acme"},
			Totals:       client.OverviewTotals{Buckets: 3, DataSources: 4, DataPoints: 3057, AlertRules: 2, APIKeys: 5},
			Usage: client.OverviewUsage{APICallsThisMonth: 24, APICallsLimit: 10000, APICallsPercentage: 0.24,
				StorageUsedBytes: 214507, StorageUsedFormatted: "209.5 KB"},
			Plan:           client.OverviewPlan{Name: "free", MaxBuckets: 3, MaxRetentionDays: 30, MaxAPICalls: 10000},
			RecentActivity: client.OverviewActivity{LastDataIngestion: ts("2024-01-15T10:30:00.25Z"), DataPointsLast24h: 2233},
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("overview = %+v\nwant       %+v", *got, want)
		}
	})
	t.Run("bucket", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":{"bucket":{"_id":"b1","name":"plant"},"period":"24h",
			"summary":{"totalDataPoints":3017,"dataPointsInPeriod":2217,"avgDataPointsPerDay":2217,"dataSources":2,"activeAlerts":1},
			"dataSourceStats":[
			  {"_id":"s1","name":"boiler","dataPointCount":1395,"lastDataPoint":"2024-01-15T10:33:17Z",
			   "avgValues":{"humidity":49.75,"temperature":4.5},"minValues":{"humidity":0,"temperature":-20},"maxValues":{"humidity":99,"temperature":33.5}},
			  {"_id":"s2","name":"idle","dataPointCount":0,"lastDataPoint":null,"avgValues":{},"minValues":{},"maxValues":{}}],
			"ingestionRate":{"dataPointsPerHour":[{"hour":"2024-01-14T10:00:00Z","count":49},{"hour":"2024-01-14T12:00:00Z","count":1346}]},
			"alertActivity":{"totalTriggered":3,"byRule":[{"name":"hot","count":3},{"name":"cold","count":0}]}},"metadata":{}}`)
		got, err := c.BucketAnalytics(ctx, "b1", client.Period24h)
		if err != nil {
			t.Fatal(err)
		}
		want := client.BucketAnalytics{
			Bucket: client.Ref{ID: "b1", Name: "plant"}, Period: "24h",
			Summary: client.BucketSummary{TotalDataPoints: 3017, DataPointsInPeriod: 2217, AvgDataPointsPerDay: 2217, DataSources: 2, ActiveAlerts: 1},
			DataSourceStats: []client.DataSourceStats{
				{ID: "s1", Name: "boiler", DataPointCount: 1395, LastDataPoint: ts("2024-01-15T10:33:17Z"),
					AvgValues: map[string]float64{"humidity": 49.75, "temperature": 4.5},
					MinValues: map[string]float64{"humidity": 0, "temperature": -20},
					MaxValues: map[string]float64{"humidity": 99, "temperature": 33.5}},
				{ID: "s2", Name: "idle", AvgValues: map[string]float64{}, MinValues: map[string]float64{}, MaxValues: map[string]float64{}},
			},
			IngestionRate: client.IngestionRate{DataPointsPerHour: []client.HourCount{
				{Hour: *ts("2024-01-14T10:00:00Z"), Count: 49}, {Hour: *ts("2024-01-14T12:00:00Z"), Count: 1346}}},
			AlertActivity: client.AlertActivity{TotalTriggered: 3, ByRule: []client.RuleCount{{Name: "hot", Count: 3}, {Name: "cold"}}},
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("bucket analytics = %+v\nwant               %+v", *got, want)
		}
	})
	t.Run("refused", func(t *testing.T) {
		c, _ := fake(t, 403, `{"error":"Forbidden","message":"This endpoint requires an admin API key"}`)
		got, err := c.AnalyticsOverview(ctx)
		var ae *client.APIError
		if got != nil || !errors.As(err, &ae) || ae.StatusCode != 403 || ae.Message != "This endpoint requires an admin API key" {
			t.Errorf("overview = %v, %v", got, err)
		}
	})
	t.Run("bad period", func(t *testing.T) {
		c, _ := fake(t, 400, `{"error":"Validation Error","message":"Invalid query parameters",
			"details":[{"path":["query","period"],"message":"Invalid enum value. Expected '24h' | '7d' | '30d' | '90d', received \"1d\""}]}`)
		_, err := c.BucketAnalytics(ctx, "b1", "1d")
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 400 || len(ae.Details) != 1 || ae.Details[0].Path[1] != "period" {
			t.Errorf("error = %v", err)
		}
	})
}
