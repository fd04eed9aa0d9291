package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dakkio/dakkio/client"
)

const queryUsage = `Usage:
  dakkio query --bucket BUCKET [--source ID ...] [--start TIME] [--end TIME] [--field NAME ...]
               [--agg avg|min|max|sum|count|first|last [--group-by minute|hour|day|week|month]]
               [--sort asc|desc] [--limit N] [--offset N] [--all] [--format table|csv|json]

TIME is RFC 3339 (2024-01-15T10:30:00Z) or a duration before now (-1h,
-30m). Raw queries answer a page of --limit rows; --all reads every page.
--format json (or --json) prints the API's answer, {"data": [...],
"metadata": {...}}.
` + apiFlagsUsage

// stringsFlag collects a repeated flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

func queryCommand(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("query", "--bucket BUCKET [flags]", stdout, stderr)
	a.long = strings.TrimSuffix(queryUsage, apiFlagsUsage)
	bucket := bucketFlag(a)
	var sources, fields stringsFlag
	a.fs.Var(&sources, "source", "data source id (repeat for several; default: every source)")
	a.fs.Var(&fields, "field", "value to return (repeat; default: every field)")
	start := a.fs.String("start", "", "start of the range, inclusive: RFC 3339 or -DURATION (default: all retained time)")
	end := a.fs.String("end", "", "end of the range, exclusive: RFC 3339 or -DURATION (default: now)")
	agg := a.fs.String("agg", "", "aggregation: avg, min, max, sum, count, first or last (default: raw points)")
	groupBy := a.fs.String("group-by", "", "aggregation window: minute, hour, day, week or month (default: the whole range)")
	sort := a.fs.String("sort", "", "asc or desc by timestamp")
	limit := a.fs.Int("limit", 0, "raw rows per page, 1..1000 (server default: 100)")
	offset := a.fs.Int("offset", 0, "raw rows to skip")
	all := a.fs.Bool("all", false, "read every page of a raw query")
	format := a.fs.String("format", "table", "table, csv or json")
	if code, ok := a.parse(args); !ok {
		return code
	}
	if *bucket == "" {
		return a.usageError("--bucket is required")
	}
	if a.json {
		*format = "json"
	}
	if !slices.Contains([]string{"table", "csv", "json"}, *format) {
		return a.usageError("--format is table, csv or json")
	}
	now := time.Now()
	startText, err := queryTime(*start, now)
	if err != nil {
		return a.usageError("--start: " + err.Error())
	}
	endText, err := queryTime(*end, now)
	if err != nil {
		return a.usageError("--end: " + err.Error())
	}
	c, code, ok := a.client()
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	id, err := resolveBucket(ctx, c, *bucket)
	if err != nil {
		return a.fail(err)
	}
	req := client.QueryRequest{BucketID: id, Aggregation: client.Aggregation(*agg), GroupBy: client.GroupBy(*groupBy),
		Sort: client.SortOrder(*sort), Filters: client.QueryFilters{StartTimeString: startText, EndTimeString: endText,
			Fields: fields, Limit: *limit, Offset: *offset}}
	if len(sources) == 1 {
		req.Filters.DataSourceID = sources[0]
	} else {
		req.Filters.DataSourceIDs = sources
	}
	var res *client.QueryResult
	if *all && *agg == "" { // an aggregated answer is one page
		res = &client.QueryResult{Data: []client.QueryRow{}}
		for row, err := range c.QueryAll(ctx, req) {
			if err != nil {
				return a.fail(err)
			}
			res.Data = append(res.Data, row)
		}
		// Every page read: the metadata describes the whole answer.
		res.Metadata = client.QueryMetadata{Count: int64(len(res.Data)), Total: int64(len(res.Data)) + int64(*offset),
			Limit: int64(len(res.Data)), Offset: int64(*offset)}
	} else if res, err = c.Query(ctx, req); err != nil {
		return a.fail(err)
	}
	switch *format {
	case "json":
		return printEnvelope(stdout, res)
	case "csv":
		header, rows := queryTable(res)
		cw := csv.NewWriter(stdout)
		_ = cw.Write(header)
		_ = cw.WriteAll(rows)
		if err := cw.Error(); err != nil {
			return a.fail(err)
		}
	default:
		header, rows := queryTable(res)
		table(stdout, header, rows)
		if m := res.Metadata; m.HasMore {
			fmt.Fprintf(stderr, "showing %d of %d rows; next page: --offset %d (or --all)\n", len(res.Data), m.Total, m.Offset+int64(len(res.Data)))
		}
	}
	if m := res.Metadata; m.Partial {
		fmt.Fprintf(stderr, "warning: the answer may miss acknowledged writes: %s\n", m.PartialReason)
	}
	if res.Metadata.DownsamplingApplied {
		fmt.Fprintln(stderr, "note: the server answered with averages (downsampling); give --limit for raw points")
	}
	return 0
}

// queryTime passes RFC 3339 through and turns -DURATION into a time.
func queryTime(v string, now time.Time) (string, error) {
	if v == "" {
		return "", nil
	}
	if strings.HasPrefix(v, "-") {
		d, err := time.ParseDuration(v)
		if err != nil {
			return "", fmt.Errorf("%q is neither RFC 3339 nor a duration such as -1h", v)
		}
		return now.Add(d).UTC().Format(time.RFC3339Nano), nil
	}
	return v, nil
}

// queryTable lays rows out with one column per field (sorted), and COUNT
// for aggregated answers.
func queryTable(res *client.QueryResult) ([]string, [][]string) {
	names := map[string]bool{}
	aggregated := false
	for _, r := range res.Data {
		for k := range r.Values {
			names[k] = true
		}
		aggregated = aggregated || r.ID == "" && r.Count > 0
	}
	fields := slices.Sorted(maps.Keys(names))
	header := append([]string{"TIMESTAMP", "SOURCE"}, fields...)
	if aggregated {
		header = append(header, "COUNT")
	}
	rows := make([][]string, 0, len(res.Data))
	for _, r := range res.Data {
		row := []string{r.Timestamp.UTC().Format(time.RFC3339Nano), r.DataSourceID}
		for _, f := range fields {
			row = append(row, valueText(r.Values[f]))
		}
		if aggregated {
			row = append(row, strconv.FormatInt(r.Count, 10))
		}
		rows = append(rows, row)
	}
	return header, rows
}

func valueText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case string:
		return v
	}
	return fmt.Sprint(v)
}
