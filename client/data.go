package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// PointInput is one data point to write. The server identifies a point by
// (DataSourceID, timestamp): writing the same pair again replaces it.
type PointInput struct {
	DataSourceID string
	// Timestamp is sent in UTC with nanosecond precision; the zero time sends
	// none, so the server uses its own clock.
	Timestamp time.Time
	// TimestampString, when not empty, is sent verbatim instead of Timestamp
	// (to send an exact text, such as one with an offset or milliseconds).
	TimestampString string
	// Values maps schema fields to numbers, strings or booleans.
	Values map[string]any
	// Metadata is optional free-form JSON; nil sends none.
	Metadata map[string]any
}

// pointJSON is the wire form of a point; BucketID only for a single write.
type pointJSON struct {
	BucketID     string         `json:"bucketId,omitempty"`
	DataSourceID string         `json:"dataSourceId"`
	Timestamp    string         `json:"timestamp,omitempty"`
	Values       map[string]any `json:"values"`
	Metadata     map[string]any `json:"metadata,omitempty"`
}

func (p PointInput) wire(bucketID string) pointJSON {
	return pointJSON{BucketID: bucketID, DataSourceID: p.DataSourceID, Timestamp: timeText(p.Timestamp, p.TimestampString),
		Values: p.Values, Metadata: p.Metadata}
}

// timeText is s if set, else t in the server's format, else "" (not sent).
func timeText(t time.Time, s string) string {
	if s != "" {
		return s
	}
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// WritePointRequest is the body of WritePoint; the fields other than
// BucketID mean what they mean in PointInput.
type WritePointRequest struct {
	BucketID        string
	DataSourceID    string
	Timestamp       time.Time
	TimestampString string
	Values          map[string]any
	Metadata        map[string]any
	// Consistency, if set, is how many of the bucket's replicas must store
	// the point before the server answers.
	Consistency Consistency
}

// MarshalJSON writes the request as POST /api/data expects it.
func (r WritePointRequest) MarshalJSON() ([]byte, error) {
	p := PointInput{DataSourceID: r.DataSourceID, Timestamp: r.Timestamp, TimestampString: r.TimestampString,
		Values: r.Values, Metadata: r.Metadata}
	return json.Marshal(p.wire(r.BucketID))
}

// WriteBatchRequest is the body of WriteBatch: 1 to 1000 points.
type WriteBatchRequest struct {
	BucketID   string
	DataPoints []PointInput
	// Consistency, as in WritePointRequest.
	Consistency Consistency
}

// MarshalJSON writes the request as POST /api/data/batch expects it.
func (r WriteBatchRequest) MarshalJSON() ([]byte, error) {
	pts := make([]pointJSON, len(r.DataPoints))
	for i, p := range r.DataPoints {
		pts[i] = p.wire("")
	}
	return json.Marshal(struct {
		BucketID   string      `json:"bucketId"`
		DataPoints []pointJSON `json:"dataPoints"`
	}{r.BucketID, pts})
}

// DataPoint is a stored point as WritePoint returns it.
type DataPoint struct {
	ID           string         `json:"_id"`
	BucketID     string         `json:"bucketId"`
	DataSourceID string         `json:"dataSourceId"`
	Timestamp    time.Time      `json:"timestamp"`
	Values       map[string]any `json:"values"`
	Metadata     map[string]any `json:"metadata"`
	CreatedAt    time.Time      `json:"createdAt"`
}

// WritePoint stores one point (admin or the bucket's write key).
func (c *Client) WritePoint(ctx context.Context, req WritePointRequest) (*DataPoint, error) {
	return callFor[DataPoint](ctx, c, http.MethodPost, withConsistency("/api/data", req.Consistency), req)
}

// WriteBatch stores 1 to 1000 points, all or none (admin or the bucket's
// write key), and returns how many the server accepted.
func (c *Client) WriteBatch(ctx context.Context, req WriteBatchRequest) (int, error) {
	out, err := callFor[struct {
		Count int `json:"count"`
	}](ctx, c, http.MethodPost, withConsistency("/api/data/batch", req.Consistency), req)
	if err != nil {
		return 0, err
	}
	return out.Count, nil
}

// QueryFilters selects points. Zero fields are not sent, so the server's
// defaults apply: every source of the bucket, all retained time, every
// field, limit 100 and offset 0 (raw queries).
type QueryFilters struct {
	DataSourceID  string
	DataSourceIDs []string
	// StartTime (inclusive) and EndTime (exclusive) bound the range; the
	// *String forms, when set, are sent verbatim instead.
	StartTime       time.Time
	StartTimeString string
	EndTime         time.Time
	EndTimeString   string
	Fields          []string
	// Limit is the page size of a raw query (1..1000). Setting it also turns
	// off automatic downsampling.
	Limit  int
	Offset int
}

// QueryRequest is the body of Query. Empty Aggregation, GroupBy and Sort
// are not sent: a raw query, in the server's order.
type QueryRequest struct {
	BucketID    string
	Filters     QueryFilters
	Aggregation Aggregation
	GroupBy     GroupBy
	Sort        SortOrder
	// RefusePartial asks for 503 rather than an answer that may miss
	// acknowledged writes (Metadata.Partial).
	RefusePartial bool
}

// MarshalJSON writes the request as POST /api/data/query expects it.
func (r QueryRequest) MarshalJSON() ([]byte, error) {
	f := r.Filters
	type filters struct {
		DataSourceID  string   `json:"dataSourceId,omitempty"`
		DataSourceIDs []string `json:"dataSourceIds,omitempty"`
		StartTime     string   `json:"startTime,omitempty"`
		EndTime       string   `json:"endTime,omitempty"`
		Fields        []string `json:"fields,omitempty"`
		Limit         int      `json:"limit,omitempty"`
		Offset        int      `json:"offset,omitempty"`
	}
	return json.Marshal(struct {
		BucketID    string      `json:"bucketId"`
		Filters     filters     `json:"filters"`
		Aggregation Aggregation `json:"aggregation,omitempty"`
		GroupBy     GroupBy     `json:"groupBy,omitempty"`
		Sort        SortOrder   `json:"sort,omitempty"`
	}{
		BucketID: r.BucketID,
		Filters: filters{
			DataSourceID: f.DataSourceID, DataSourceIDs: f.DataSourceIDs,
			StartTime: timeText(f.StartTime, f.StartTimeString), EndTime: timeText(f.EndTime, f.EndTimeString),
			Fields: f.Fields, Limit: f.Limit, Offset: f.Offset,
		},
		Aggregation: r.Aggregation, GroupBy: r.GroupBy, Sort: r.Sort,
	})
}

// QueryRow is a point (raw queries: ID and Metadata set) or one source's
// aggregate over one window (aggregated queries: Timestamp is the window's
// start, Count the points in it).
type QueryRow struct {
	ID           string         `json:"_id,omitempty"`
	DataSourceID string         `json:"dataSourceId"`
	Timestamp    time.Time      `json:"timestamp"`
	Values       map[string]any `json:"values"`
	Metadata     map[string]any `json:"metadata,omitempty"`
	Count        int64          `json:"count,omitempty"`
}

// QueryMetadata describes a query's answer. Raw answers set Total, Limit,
// Offset and HasMore; aggregated ones Aggregation and GroupBy (nil for one
// window over the whole range); DownsamplingApplied tells that the server
// answered an unbounded raw query with averages.
type QueryMetadata struct {
	Count               int64   `json:"count"`
	Total               int64   `json:"total"`
	Limit               int64   `json:"limit"`
	Offset              int64   `json:"offset"`
	HasMore             bool    `json:"hasMore"`
	Aggregation         *string `json:"aggregation"`
	GroupBy             *string `json:"groupBy"`
	DownsamplingApplied bool    `json:"downsamplingApplied"`
	// Partial tells that no replica known to hold every acknowledged write
	// answered (a cluster catching up after a fault); PartialReason says why.
	Partial       bool   `json:"partial"`
	PartialReason string `json:"partialReason"`
}

// QueryResult is the whole answer of Query.
type QueryResult struct {
	Data     []QueryRow    `json:"data"`
	Metadata QueryMetadata `json:"metadata"`
}

func (*QueryResult) wholeEnvelope() {}

// Query reads points, raw or aggregated (any key with access to the bucket).
func (c *Client) Query(ctx context.Context, req QueryRequest) (*QueryResult, error) {
	path := "/api/data/query"
	if req.RefusePartial {
		path += "?allowPartial=false"
	}
	return callFor[QueryResult](ctx, c, http.MethodPost, path, req)
}

// withConsistency adds ?consistency= to an ingest path when asked.
func withConsistency(path string, level Consistency) string {
	if level == "" {
		return path
	}
	return path + "?" + url.Values{"consistency": {string(level)}}.Encode()
}
