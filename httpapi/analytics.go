package httpapi

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// The analytics endpoints follow docs/api.md; where it is silent:
//   - GET /api/analytics/overview is for admin keys only (403 for bucket
//     keys): it spans the whole organization;
//   - usage.apiCallsThisMonth counts the organization's calls this calendar
//     month (UTC) as the answering node knows them: its own, this one
//     included, plus the other nodes' as last shipped (about a second old);
//   - usage.apiCallsLimit and plan.maxApiCalls are -1 when the plan is
//     unlimited, and then apiCallsPercentage is 0; otherwise the percentage
//     is apiCallsThisMonth / apiCallsLimit × 100, rounded to two decimals.
//     plan.maxBuckets and plan.maxRetentionDays are -1 when unlimited too;
//   - usage.storageUsedBytes is an estimate of the bytes the organization's
//     points and rollups take on disk (compressed where they fill storage
//     tables of their own, as stored where they share them or are not yet
//     flushed): see points.DB.BucketSize. storageUsedFormatted writes it in
//     1024-based units with one decimal: "0 B", "812 B", "1.5 KB", "3.2 MB",
//     "1.1 GB", "2.0 TB";
//   - totals.apiKeys counts the organization's bucket keys and admin keys;
//     totals.dataPoints counts every point stored, whatever its time;
//   - recentActivity.lastDataIngestion is the timestamp of the newest point
//     of any of the organization's sources (null when there is none);
//     lastAlertTriggered is the newest trigger of any rule (null if none);
//     dataPointsLast24h counts points with timestamps in [now − 24h, now),
//     exactly; alertsTriggeredLast24h counts the triggers since now − 24h;
//   - GET /api/analytics/buckets/:bucketId takes period 24h, 7d (default),
//     30d or 90d; anything else, an empty value included, is a 400. The
//     period is [now − period, now), clamped to the bucket's retention;
//   - summary.totalDataPoints counts every point of the bucket, whatever its
//     time; dataPointsInPeriod those in the period; avgDataPointsPerDay is
//     dataPointsInPeriod over the period's days (1, 7, 30, 90), rounded to
//     two decimals; activeAlerts counts the bucket's rules that are active
//     (not paused);
//   - dataSourceStats lists every source of the bucket in creation order:
//     dataPointCount counts its points in the period; lastDataPoint is the
//     timestamp of its newest point at all (null if it has none); avgValues,
//     minValues and maxValues hold each numeric field over the period ({}
//     when there is none); a value JSON cannot hold (an overflowing average)
//     is null;
//   - ingestionRate.dataPointsPerHour has one entry per clock hour (UTC)
//     holding points of the period, ascending: "hour" is the start of the
//     hour, so the first entry of a period not starting on the hour starts
//     before the period (it counts only the points in the period);
//   - alertActivity.byRule lists every rule of the bucket in creation order
//     with its triggers in the period, zero included; totalTriggered is their
//     sum. The server keeps a rule's last 1000 triggers, so counts of rules
//     triggering more often than that in the period are capped there;
//   - counts come from the stored hour rollups and per-source counters, so
//     no request reads a whole period point by point.

// analyticsPeriods are the bucket analytics periods and their days.
var analyticsPeriods = []struct {
	name string
	days int
}{{"24h", 1}, {"7d", 7}, {"30d", 30}, {"90d", 90}}

const defaultAnalyticsPeriod = "7d"

func (s *Server) analyticsRoutes() {
	r := &s.routes
	r.add("GET", "/api/analytics/overview", apiKey, s.analyticsOverview)
	r.add("GET", "/api/analytics/buckets/:bucketId", apiKey, s.bucketAnalytics)
}

type idName struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
}

type overviewView struct {
	Organization idName `json:"organization"`
	Totals       struct {
		Buckets     int   `json:"buckets"`
		DataSources int   `json:"dataSources"`
		DataPoints  int64 `json:"dataPoints"`
		AlertRules  int   `json:"alertRules"`
		APIKeys     int   `json:"apiKeys"`
	} `json:"totals"`
	Usage struct {
		APICallsThisMonth    int64   `json:"apiCallsThisMonth"`
		APICallsLimit        int64   `json:"apiCallsLimit"`
		APICallsPercentage   float64 `json:"apiCallsPercentage"`
		StorageUsedBytes     int64   `json:"storageUsedBytes"`
		StorageUsedFormatted string  `json:"storageUsedFormatted"`
	} `json:"usage"`
	Plan struct {
		Name             string `json:"name"`
		MaxBuckets       int    `json:"maxBuckets"`
		MaxRetentionDays int    `json:"maxRetentionDays"`
		MaxAPICalls      int64  `json:"maxApiCalls"`
	} `json:"plan"`
	RecentActivity struct {
		LastDataIngestion      *string `json:"lastDataIngestion"`
		LastAlertTriggered     *string `json:"lastAlertTriggered"`
		DataPointsLast24h      int64   `json:"dataPointsLast24h"`
		AlertsTriggeredLast24h int     `json:"alertsTriggeredLast24h"`
	} `json:"recentActivity"`
}

// analyticsOverview answers GET /api/analytics/overview.
func (s *Server) analyticsOverview(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	orgID := c.principal.OrgID
	org, err := s.cfg.Meta.Org(orgID)
	if err != nil {
		return err
	}
	now := s.now()
	dayAgo := now.Add(-24 * time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()

	var v overviewView
	v.Organization = idName{ID: org.ID, Name: org.Name}
	buckets := s.allBuckets(orgID)
	v.Totals.Buckets = len(buckets)
	lastPoint, anyPoint := int64(0), false
	for _, b := range buckets {
		srcs, err := s.querySources(b.ID, nil)
		if err != nil {
			return err
		}
		_, keys := s.cfg.Meta.BucketCounts(b.ID)
		v.Totals.DataSources += len(srcs)
		v.Totals.APIKeys += keys
		count, err := s.cfg.Points.BucketPointCount(ctx, b.ID)
		if err != nil {
			return pointsError(err)
		}
		size, err := s.cfg.Points.BucketSize(ctx, b.ID)
		if err != nil {
			return pointsError(err)
		}
		v.Totals.DataPoints += count
		v.Usage.StorageUsedBytes += size
		if len(srcs) == 0 {
			continue
		}
		ids := make([]string, len(srcs))
		for i, src := range srcs {
			ids[i] = src.ID
			ts, ok, err := s.cfg.Points.LastPointTime(ctx, b.ID, src.ID)
			if err != nil {
				return pointsError(err)
			}
			if ok && (!anyPoint || ts > lastPoint) {
				lastPoint, anyPoint = ts, true
			}
		}
		n, err := s.cfg.Points.Count(ctx, points.Range{BucketID: b.ID, SourceIDs: ids, Start: dayAgo.UnixNano(), End: now.UnixNano()}, nil)
		if err != nil {
			return pointsError(err)
		}
		v.RecentActivity.DataPointsLast24h += n
	}
	v.Totals.APIKeys += s.cfg.Meta.AdminKeyCount(orgID)
	rules, triggered, lastTrigger := s.cfg.Meta.OrgAlertStats(orgID, dayAgo)
	v.Totals.AlertRules = rules
	v.RecentActivity.AlertsTriggeredLast24h = triggered
	if anyPoint {
		ts := formatTimestamp(lastPoint)
		v.RecentActivity.LastDataIngestion = &ts
	}
	if lastTrigger != nil {
		ts := formatTimestamp(lastTrigger.UnixNano())
		v.RecentActivity.LastAlertTriggered = &ts
	}

	plan, limits := s.cfg.Limiter.Plan(orgID)
	used := s.cfg.Limiter.Used(orgID)
	v.Usage.APICallsThisMonth = used
	v.Usage.APICallsLimit = limits.MaxAPICalls
	if limits.MaxAPICalls > 0 {
		v.Usage.APICallsPercentage = round2(float64(used) * 100 / float64(limits.MaxAPICalls))
	}
	v.Usage.StorageUsedFormatted = formatBytes(v.Usage.StorageUsedBytes)
	v.Plan.Name = plan
	v.Plan.MaxBuckets = unlimitedAsMinusOne(limits.MaxBuckets)
	v.Plan.MaxRetentionDays = unlimitedAsMinusOne(limits.MaxRetentionDays)
	v.Plan.MaxAPICalls = limits.MaxAPICalls
	writeData(c.ctx, fasthttp.StatusOK, v)
	return nil
}

// allBuckets returns every bucket of the organization.
func (s *Server) allBuckets(orgID string) []store.Bucket {
	var all []store.Bucket
	for off := 0; ; off += sourcesPageLimit {
		page, total := s.cfg.Meta.Buckets(orgID, off, sourcesPageLimit)
		all = append(all, page...)
		if len(page) == 0 || off+len(page) >= total {
			return all
		}
	}
}

// bucketAnalytics answers GET /api/analytics/buckets/:bucketId.
func (s *Server) bucketAnalytics(c *call) error {
	b, err := s.bucketAccess(c, c.param("bucketId"), false)
	if err != nil {
		return err
	}
	args := c.ctx.QueryArgs()
	period, days, aerr := parsePeriod(args.Has("period"), string(args.Peek("period")))
	if aerr != nil {
		return aerr
	}
	note, aerr := readNote(c)
	if aerr != nil {
		return aerr
	}
	now := s.now()
	start := now.Add(-time.Duration(days) * 24 * time.Hour)
	srcs, err := s.querySources(b.ID, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	stats := make([]points.SourceStats, len(srcs))
	lastPoints := make([]int64, len(srcs)) // -1: none
	if len(srcs) > 0 {
		ids := make([]string, len(srcs))
		for i, src := range srcs {
			ids[i] = src.ID
		}
		stats, err = s.cfg.Points.PeriodStats(ctx, points.Range{BucketID: b.ID, SourceIDs: ids, Start: start.UnixNano(), End: now.UnixNano()}, note)
		if err != nil {
			return pointsError(err)
		}
	}
	for i, src := range srcs {
		ts, ok, err := s.cfg.Points.LastPointTime(ctx, b.ID, src.ID)
		if err != nil {
			return pointsError(err)
		}
		if lastPoints[i] = -1; ok {
			lastPoints[i] = ts
		}
	}
	total, err := s.cfg.Points.BucketPointCount(ctx, b.ID)
	if err != nil {
		return pointsError(err)
	}
	active, byRule := s.cfg.Meta.BucketAlertStats(b.ID, start)

	var inPeriod int64
	for _, st := range stats {
		inPeriod += st.Count
	}
	out := make([]byte, 0, 1024+len(srcs)*256+days*24*48)
	out = append(out, `{"data":{"bucket":{"_id":`...)
	out = appendJSONString(out, b.ID)
	out = append(out, `,"name":`...)
	out = appendJSONString(out, b.Name)
	out = append(out, `},"period":`...)
	out = appendJSONString(out, period)
	out = append(out, `,"summary":{"totalDataPoints":`...)
	out = strconv.AppendInt(out, total, 10)
	out = append(out, `,"dataPointsInPeriod":`...)
	out = strconv.AppendInt(out, inPeriod, 10)
	out = append(out, `,"avgDataPointsPerDay":`...)
	out = appendJSONFloat(out, round2(float64(inPeriod)/float64(days)))
	out = append(out, `,"dataSources":`...)
	out = strconv.AppendInt(out, int64(len(srcs)), 10)
	out = append(out, `,"activeAlerts":`...)
	out = strconv.AppendInt(out, int64(active), 10)
	out = append(out, `},"dataSourceStats":[`...)
	for i, src := range srcs {
		st := &stats[i]
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"_id":`...)
		out = appendJSONString(out, src.ID)
		out = append(out, `,"name":`...)
		out = appendJSONString(out, src.Name)
		out = append(out, `,"dataPointCount":`...)
		out = strconv.AppendInt(out, st.Count, 10)
		out = append(out, `,"lastDataPoint":`...)
		if ts := lastPoints[i]; ts >= 0 {
			out = append(out, '"')
			out = appendTimestamp(out, ts)
			out = append(out, '"')
		} else {
			out = append(out, "null"...)
		}
		out = append(out, `,"avgValues":`...)
		out = appendFloatMap(out, st.Avg)
		out = append(out, `,"minValues":`...)
		out = appendFloatMap(out, st.Min)
		out = append(out, `,"maxValues":`...)
		out = appendFloatMap(out, st.Max)
		out = append(out, '}')
	}
	out = append(out, `],"ingestionRate":{"dataPointsPerHour":[`...)
	for i, h := range hourlyTotals(stats) {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"hour":"`...)
		out = appendTimestamp(out, h.Hour)
		out = append(out, `","count":`...)
		out = strconv.AppendInt(out, h.Count, 10)
		out = append(out, '}')
	}
	var triggered int64
	for _, r := range byRule {
		triggered += int64(r.Count)
	}
	out = append(out, `]},"alertActivity":{"totalTriggered":`...)
	out = strconv.AppendInt(out, triggered, 10)
	out = append(out, `,"byRule":[`...)
	for i, r := range byRule {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"name":`...)
		out = appendJSONString(out, r.Name)
		out = append(out, `,"count":`...)
		out = strconv.AppendInt(out, int64(r.Count), 10)
		out = append(out, '}')
	}
	out = append(out, `]}},"metadata":{`...)
	if note.Partial {
		out = append(out, `"partial":true,"partialReason":`...)
		out = appendJSONString(out, note.Reason)
	}
	out = append(out, `}}`...)
	writeRawJSON(c.ctx, fasthttp.StatusOK, out)
	return nil
}

// parsePeriod reads the period argument; absent means the default.
func parsePeriod(given bool, arg string) (name string, days int, aerr *apiError) {
	if !given {
		arg = defaultAnalyticsPeriod
	}
	for _, p := range analyticsPeriods {
		if arg == p.name {
			return p.name, p.days, nil
		}
	}
	return "", 0, validationError("Invalid query parameters", Detail{Path: []any{"query", "period"},
		Message: "Invalid enum value. Expected '24h' | '7d' | '30d' | '90d', received " + strconv.Quote(arg)})
}

// hourlyTotals adds up the sources' hourly counts, hour by hour ascending.
func hourlyTotals(stats []points.SourceStats) []points.HourCount {
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for _, st := range stats {
		if n := len(st.Hourly); n > 0 {
			first = min(first, st.Hourly[0].Hour)
			last = max(last, st.Hourly[n-1].Hour)
		}
	}
	if first > last {
		return nil
	}
	const hourNS = int64(time.Hour)
	counts := make([]int64, (last-first)/hourNS+1)
	for _, st := range stats {
		for _, h := range st.Hourly {
			counts[(h.Hour-first)/hourNS] += h.Count
		}
	}
	var out []points.HourCount
	for i, n := range counts {
		if n > 0 {
			out = append(out, points.HourCount{Hour: first + int64(i)*hourNS, Count: n})
		}
	}
	return out
}

// appendFloatMap appends m as an object with its keys in sorted order.
func appendFloatMap(dst []byte, m map[string]float64) []byte {
	vals := make(map[string]any, len(m))
	for k, v := range m {
		vals[k] = v
	}
	return appendJSONMap(dst, vals)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// unlimitedAsMinusOne shows a plan's count limit, 0 meaning unlimited, as
// the API shows every unlimited limit: -1.
func unlimitedAsMinusOne(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// formatBytes writes n in 1024-based units with one decimal ("1.5 MB"),
// bytes as a whole number ("812 B").
func formatBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	units := []string{"KB", "MB", "GB", "TB", "PB"}
	i := -1
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	// Rounding may carry to 1024.0: show the next unit instead.
	if math.Round(f*10)/10 >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}
