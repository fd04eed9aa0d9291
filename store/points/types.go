package points

import (
	"errors"
	"log/slog"
	"time"
)

// Kind is the type of a value.
type Kind uint8

// Value kinds, as in a data source's schema.
const (
	KindNumber Kind = iota + 1
	KindString
	KindBool
)

// Value is one field of a point.
type Value struct {
	Field string
	Num   float64
	Str   string
	// The one-byte fields last: 48 bytes a value, not 56 (a point of
	// three fields is carved with its neighbours' values, and a decoded
	// block holds them all).
	Kind Kind
	Bool bool
}

// Point is one data point of a source. (SourceID, TS) identifies it: writing
// the same pair again replaces the earlier point.
type Point struct {
	SourceID string  // 24 hex characters
	TS       int64   // Unix nanoseconds
	Values   []Value // sorted by Field, no duplicates
	Metadata []byte  // a JSON object, or nil
}

// Window is an aggregation window.
type Window uint8

// Windows, finest first. WindowAll is one window over the whole range.
const (
	WindowAll Window = iota
	WindowMinute
	WindowHour
	WindowDay
	WindowWeek // starts Monday 00:00 UTC
	WindowMonth
)

// Aggregation is how a window's values are combined.
type Aggregation uint8

// Aggregations.
const (
	AggAvg Aggregation = iota + 1
	AggMin
	AggMax
	AggSum
	AggCount
	AggFirst
	AggLast
)

// Range selects points of some sources of a bucket in [Start, End).
type Range struct {
	BucketID  string
	SourceIDs []string // each at most once
	Start     int64    // inclusive, Unix ns
	End       int64    // exclusive, Unix ns
}

// RawQuery asks for points in time order (across sources), paged.
type RawQuery struct {
	Range
	Fields []string // nil: every field
	Offset int
	Limit  int
	Desc   bool
}

// RawResult is a page of points and how many match in all.
type RawResult struct {
	Points []Point
	Total  int64
}

// AggQuery asks for one row per source per window.
type AggQuery struct {
	Range
	Fields      []string // nil: every field
	Aggregation Aggregation
	Window      Window
	Desc        bool
	// Stats fills Row.Stats instead of Row.Values: everything a caller
	// needs to combine windows itself (the PromQL API moves hour windows
	// by their edge points, which plain aggregates cannot tell). Its rows
	// come source by source, each in time order; Desc is ignored.
	Stats bool `json:",omitempty"`
}

// Row is one source's aggregate over one window. Values hold float64 for
// avg/min/max/sum, int64 for count, and the field's own type for first/last;
// numeric aggregations leave out non-numeric fields.
type Row struct {
	SourceID string
	Start    int64 // window start, Unix ns
	Count    int64 // points in the window
	Values   map[string]any
	// Stats holds each numeric field's summary, by name, when
	// AggQuery.Stats is set (and Values is nil).
	Stats []FieldStats `json:",omitempty"`
}

// FieldStats summarizes a numeric field over a window: its count, sum,
// extremes, and its first and last values with their times.
type FieldStats struct {
	Field           string
	Count           int64
	Sum, Min, Max   float64
	FirstTS, LastTS int64
	First, Last     float64
}

// Errors.
var (
	// ErrClosed: the DB is closed.
	ErrClosed = errors.New("points store closed")
	// ErrBadQuery: the query cannot be answered as asked (empty range, bad window).
	ErrBadQuery = errors.New("bad query")
	// ErrTooLarge: one write is too large for a single transaction.
	ErrTooLarge = errors.New("write too large")
)

// Config configures a DB.
type Config struct {
	// Dir holds the Badger files. Required.
	Dir string
	// SyncWrites fsyncs every commit before acknowledging it, so acknowledged
	// points survive power loss too; without it they survive a process crash
	// (kill -9) but the last moments may be lost if the machine loses power.
	SyncWrites bool
	// Retention returns a bucket's retention; false means the bucket is gone.
	// Points older than now minus retention are never returned and are
	// deleted by the sweeper. Required.
	Retention func(bucketID string) (time.Duration, bool)
	// SweepInterval is how often expired points are deleted. Default 1 minute.
	SweepInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Compression of each stored block (blockzip.go): "snappy" (default),
	// "zstd" or "none". Blocks are already column-encoded; Badger's tables
	// themselves are not compressed again.
	Compression string
	// InMemory keeps everything in memory (tests of layers above).
	InMemory bool
	// KeepTablePages leaves the pages of the tables Badger writes, and
	// those reads fault in, resident in the process (pageout.go): RSS then
	// grows with the data stored.
	KeepTablePages bool
	// SourceDeleted reports whether a source was deleted for good (the
	// replicated metadata remembers deleted sources); the writer leaves
	// their points out (DB.sourceDeleted). Default: none is.
	SourceDeleted func(sourceID string) bool
	// MinFreeBytes is the free space the store keeps on its filesystem:
	// below it, writes fail with ErrDiskFull. Default (0) 160 MiB;
	// negative turns the check off.
	MinFreeBytes int64
	// MaxLinger is the longest a group commit waits for writes announced
	// to be on their way (arrivals.go). Default (0) 1 ms; negative: none.
	MaxLinger time.Duration
	// Logger receives Badger's and the store's logs. Default slog.Default().
	Logger *slog.Logger
}
