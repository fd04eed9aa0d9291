package client_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
)

func TestDataRequests(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2024, 1, 15, 11, 30, 0, 123456000, time.FixedZone("", 3600))
	tests := []struct {
		name string
		call func(*client.Client) error
		path string
		body string
	}{
		{"write point, time in UTC", func(c *client.Client) error {
			_, err := c.WritePoint(ctx, client.WritePointRequest{BucketID: "b1", DataSourceID: "s1", Timestamp: at,
				Values: map[string]any{"t": 21.5, "s": "x", "ok": true}, Metadata: map[string]any{"m": 1}})
			return err
		}, "/api/data", `{"bucketId":"b1","dataSourceId":"s1","timestamp":"2024-01-15T10:30:00.123456Z","values":{"ok":true,"s":"x","t":21.5},"metadata":{"m":1}}`},
		{"write point, server time, no metadata", func(c *client.Client) error {
			_, err := c.WritePoint(ctx, client.WritePointRequest{BucketID: "b1", DataSourceID: "s1", Values: map[string]any{"t": 1}})
			return err
		}, "/api/data", `{"bucketId":"b1","dataSourceId":"s1","values":{"t":1}}`},
		{"write point, exact timestamp text wins", func(c *client.Client) error {
			_, err := c.WritePoint(ctx, client.WritePointRequest{BucketID: "b1", DataSourceID: "s1", Timestamp: at,
				TimestampString: "2024-01-15T10:30:00.120+00:00", Values: map[string]any{"t": 1}})
			return err
		}, "/api/data", `{"bucketId":"b1","dataSourceId":"s1","timestamp":"2024-01-15T10:30:00.120+00:00","values":{"t":1}}`},
		{"write batch", func(c *client.Client) error {
			_, err := c.WriteBatch(ctx, client.WriteBatchRequest{BucketID: "b1", DataPoints: []client.PointInput{
				{DataSourceID: "s1", Timestamp: at, Values: map[string]any{"t": 1}},
				{DataSourceID: "s2", TimestampString: "x", Values: map[string]any{"u": "v"}, Metadata: map[string]any{}},
				{DataSourceID: "s3"},
			}})
			return err
		}, "/api/data/batch", `{"bucketId":"b1","dataPoints":[{"dataSourceId":"s1","timestamp":"2024-01-15T10:30:00.123456Z","values":{"t":1}},` +
			`{"dataSourceId":"s2","timestamp":"x","values":{"u":"v"}},{"dataSourceId":"s3","values":null}]}`},
		{"query, defaults not sent", func(c *client.Client) error {
			_, err := c.Query(ctx, client.QueryRequest{BucketID: "b1"})
			return err
		}, "/api/data/query", `{"bucketId":"b1","filters":{}}`},
		{"query, everything", func(c *client.Client) error {
			_, err := c.Query(ctx, client.QueryRequest{BucketID: "b1", Filters: client.QueryFilters{
				DataSourceID: "s1", DataSourceIDs: []string{"s2", "s3"}, StartTime: at, EndTimeString: "2024-02-01T00:00:00Z",
				Fields: []string{"t"}, Limit: 10, Offset: 20,
			}, Aggregation: "max", GroupBy: "week", Sort: "desc"})
			return err
		}, "/api/data/query", `{"bucketId":"b1","filters":{"dataSourceId":"s1","dataSourceIds":["s2","s3"],"startTime":"2024-01-15T10:30:00.123456Z",` +
			`"endTime":"2024-02-01T00:00:00Z","fields":["t"],"limit":10,"offset":20},"aggregation":"max","groupBy":"week","sort":"desc"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, got := fake(t, 201, `{"data":{},"metadata":{}}`, client.WithAPIKey("dakkio_w_key"))
			if tt.path == "/api/data/query" {
				c, got = fake(t, 200, `{"data":[],"metadata":{"count":0}}`, client.WithAPIKey("dakkio_w_key"))
			}
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			r := last(t, got)
			if r.method != "POST" || r.path != tt.path || r.header.Get("X-API-Key") != "dakkio_w_key" || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("sent %s %s %v", r.method, r.path, r.header)
			}
			if r.body != tt.body {
				t.Errorf("body = %s\nwant   %s", r.body, tt.body)
			}
		})
	}
}

func TestDataDecode(t *testing.T) {
	ctx := context.Background()
	t.Run("written point", func(t *testing.T) {
		c, _ := fake(t, 201, `{"data":{"_id":"p1","bucketId":"b1","dataSourceId":"s1","timestamp":"2024-01-15T10:30:00.12Z",
			"values":{"t":21.5,"s":"x","ok":false},"metadata":{},"createdAt":"2024-01-15T10:30:01Z"},"metadata":{}}`)
		p, err := c.WritePoint(ctx, client.WritePointRequest{})
		if err != nil {
			t.Fatal(err)
		}
		want := client.DataPoint{ID: "p1", BucketID: "b1", DataSourceID: "s1", Timestamp: time.Date(2024, 1, 15, 10, 30, 0, 120_000_000, time.UTC),
			Values: map[string]any{"t": 21.5, "s": "x", "ok": false}, Metadata: map[string]any{}, CreatedAt: time.Date(2024, 1, 15, 10, 30, 1, 0, time.UTC)}
		if !p.Timestamp.Equal(want.Timestamp) || !p.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("times = %v %v", p.Timestamp, p.CreatedAt)
		}
		p.Timestamp, p.CreatedAt, want.Timestamp, want.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(*p, want) {
			t.Errorf("point = %+v\nwant %+v", *p, want)
		}
	})
	t.Run("batch count", func(t *testing.T) {
		c, _ := fake(t, 201, `{"data":{"count":1000},"metadata":{}}`)
		n, err := c.WriteBatch(ctx, client.WriteBatchRequest{})
		if err != nil || n != 1000 {
			t.Errorf("WriteBatch = %d, %v", n, err)
		}
		c, _ = fake(t, 400, `{"error":"Validation Error","message":"Invalid data points","details":[{"path":["body","dataPoints",3,"values","t"],"message":"Expected number, received string"}]}`)
		n, err = c.WriteBatch(ctx, client.WriteBatchRequest{})
		if n != 0 || !client.IsStatus(err, 400) {
			t.Errorf("WriteBatch = %d, %v; want 0 and a 400", n, err)
		}
	})
	t.Run("raw query", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":[{"_id":"p1","dataSourceId":"s1","timestamp":"2024-01-15T10:30:00.123456Z","values":{"t":1},"metadata":{"m":"x"}}],
			"metadata":{"count":1,"total":7,"limit":1,"offset":2,"hasMore":true}}`)
		res, err := c.Query(ctx, client.QueryRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Metadata != (client.QueryMetadata{Count: 1, Total: 7, Limit: 1, Offset: 2, HasMore: true}) {
			t.Errorf("metadata = %+v", res.Metadata)
		}
		if len(res.Data) != 1 || res.Data[0].ID != "p1" || res.Data[0].Metadata["m"] != "x" || res.Data[0].Count != 0 ||
			!res.Data[0].Timestamp.Equal(time.Date(2024, 1, 15, 10, 30, 0, 123456000, time.UTC)) {
			t.Errorf("data = %+v", res.Data)
		}
	})
	t.Run("aggregated query", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":[{"dataSourceId":"s1","timestamp":"2024-01-15T00:00:00Z","values":{"t":2.5,"s":"last"},"count":4}],
			"metadata":{"count":1,"aggregation":"avg","groupBy":"day","downsamplingApplied":true}}`)
		res, err := c.Query(ctx, client.QueryRequest{})
		if err != nil {
			t.Fatal(err)
		}
		md := res.Metadata
		if md.Count != 1 || md.Aggregation == nil || *md.Aggregation != "avg" || md.GroupBy == nil || *md.GroupBy != "day" || !md.DownsamplingApplied {
			t.Errorf("metadata = %+v", md)
		}
		if row := res.Data[0]; row.ID != "" || row.Count != 4 || row.Values["t"] != 2.5 || row.Values["s"] != "last" {
			t.Errorf("row = %+v", row)
		}
		c, _ = fake(t, 200, `{"data":[{"dataSourceId":"s1","timestamp":"2024-01-15T00:00:00Z","values":{},"count":1}],"metadata":{"count":1,"aggregation":"count","groupBy":null}}`)
		if res, err = c.Query(ctx, client.QueryRequest{}); err != nil || res.Metadata.GroupBy != nil {
			t.Errorf("groupBy null: %+v, %v", res, err)
		}
	})
	t.Run("no match", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":[],"metadata":{"count":0}}`)
		res, err := c.Query(ctx, client.QueryRequest{})
		if err != nil || res.Data == nil || len(res.Data) != 0 || res.Metadata != (client.QueryMetadata{}) {
			t.Errorf("no match = %+v, %v", res, err)
		}
	})
}
