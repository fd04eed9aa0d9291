package promapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Catalog is the read side of the metadata the series model is built from.
type Catalog interface {
	Buckets(orgID string, offset, limit int) ([]store.Bucket, int)
	Bucket(orgID, id string) (store.Bucket, error)
	Sources(bucketID string, offset, limit int) ([]store.DataSource, int)
}

// Points reads points; httpapi's Points (any node of a cluster) does.
type Points interface {
	Raw(ctx context.Context, q points.RawQuery) (points.RawResult, error)
	Aggregate(ctx context.Context, q points.AggQuery) ([]points.Row, error)
	// ChangeMark returns a token that changes whenever a point of the
	// bucket in [start, end) (Unix ns) is written, replaced or deleted:
	// the result cache's witness that a cached window still holds.
	ChangeMark(bucketID string, start, end int64) string
}

// Config configures an API. Catalog and Points are required.
type Config struct {
	Catalog Catalog
	Points  Points
	// MaxSeries caps the series one selector may match. Default 10,000.
	MaxSeries int
	// MaxPoints caps the points a query reads from storage, and the
	// series × steps it evaluates. Default 5,000,000.
	MaxPoints int64
	// MaxSteps caps the steps of a range query. Default 11,000, as Prometheus.
	MaxSteps int64
	// Timeout bounds one query. Default 30s.
	Timeout time.Duration
	// CacheEntries is how many range queries the result cache keeps; 0
	// means the default (512), negative turns the cache off.
	CacheEntries int
	// CacheGrace: steps newer than now minus this are never cached (their
	// windows may still fill). Default 1 minute.
	CacheGrace time.Duration
	// CacheMaxAge bounds how long a cached step is reused without being
	// recomputed. Default 10 minutes.
	CacheMaxAge time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Version is reported by buildinfo as dakkio's own version.
	Version string
}

// API serves the endpoints. It is safe for concurrent use.
type API struct {
	cfg   Config
	cache *resultCache // nil when off
}

// New returns an API.
func New(cfg Config) (*API, error) {
	if cfg.Catalog == nil || cfg.Points == nil {
		return nil, errors.New("promapi: Catalog and Points are required")
	}
	if cfg.MaxSeries <= 0 {
		cfg.MaxSeries = 10_000
	}
	if cfg.MaxPoints <= 0 {
		cfg.MaxPoints = 5_000_000
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = 11_000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.CacheGrace <= 0 {
		cfg.CacheGrace = time.Minute
	}
	if cfg.CacheMaxAge <= 0 {
		cfg.CacheMaxAge = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	a := &API{cfg: cfg}
	if cfg.CacheEntries >= 0 {
		n := cfg.CacheEntries
		if n == 0 {
			n = 512
		}
		a.cache = newResultCache(n)
	}
	return a, nil
}

// Scope is what the calling key may read: every bucket of the
// organization (BucketID empty: an admin key) or one bucket.
type Scope struct {
	OrgID    string
	BucketID string
}

// Endpoints, as httpapi routes them.
const (
	EndpointQuery       = "query"
	EndpointQueryRange  = "query_range"
	EndpointSeries      = "series"
	EndpointLabels      = "labels"
	EndpointLabelValues = "label_values"
	EndpointMetadata    = "metadata"
	EndpointBuildInfo   = "buildinfo"
)

// Error types of Prometheus' API and their statuses.
const (
	errBadData     = "bad_data"  // 400
	errExecution   = "execution" // 422
	errUnavailable = "unavailable"
	errInternal    = "internal"
	errTimeout     = "timeout"
)

// apiError is an answer other than success.
type apiError struct {
	status int
	typ    string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badData(format string, args ...any) *apiError {
	return &apiError{status: 400, typ: errBadData, msg: fmt.Sprintf(format, args...)}
}

func unsupported(format string, args ...any) *apiError {
	return &apiError{status: 422, typ: errExecution, msg: fmt.Sprintf(format, args...)}
}

// StorageError is a failure of the points store; the caller maps it to a
// status (503 when the cluster cannot serve, for one) with ErrorBody.
type StorageError struct{ Err error }

func (e *StorageError) Error() string { return e.Err.Error() }
func (e *StorageError) Unwrap() error { return e.Err }

// Response is an answer: its status, JSON body and, for range queries,
// how the result cache served it ("hit", "partial" or "miss"; "" when not
// asked or off).
type Response struct {
	Status int
	Body   []byte
	Cache  string
}

// Serve answers one call: the endpoint, the label name for label values,
// and the form (URL query and form-encoded body merged). It returns the
// answer, or a *StorageError the caller must answer with ErrorBody.
func (a *API) Serve(sc Scope, endpoint, labelName string, form url.Values) (Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Timeout)
	defer cancel()
	var (
		body  []byte
		err   error
		cache string
	)
	switch endpoint {
	case EndpointQuery:
		body, err = a.instantQuery(ctx, sc, form)
	case EndpointQueryRange:
		body, cache, err = a.rangeQuery(ctx, sc, form)
	case EndpointSeries:
		body, err = a.series(sc, form)
	case EndpointLabels:
		body, err = a.labelNames(sc, form)
	case EndpointLabelValues:
		body, err = a.labelValues(sc, labelName, form)
	case EndpointMetadata:
		body, err = a.metadata(sc, form)
	case EndpointBuildInfo:
		body = a.buildInfo()
	default:
		err = badData("unknown endpoint %q", endpoint)
	}
	if err == nil {
		return Response{Status: 200, Body: body, Cache: cache}, nil
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return Response{Status: ae.status, Body: ErrorBody(ae.typ, ae.msg)}, nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Response{Status: 503, Body: ErrorBody(errTimeout, "query timed out in expression evaluation")}, nil
	}
	if errors.Is(err, points.ErrBadQuery) {
		return Response{Status: 400, Body: ErrorBody(errBadData, err.Error())}, nil
	}
	return Response{}, &StorageError{Err: err}
}

// ErrorBody is Prometheus' error answer.
func ErrorBody(errorType, msg string) []byte {
	b := []byte(`{"status":"error","errorType":`)
	b = appendString(b, errorType)
	b = append(b, `,"error":`...)
	b = appendString(b, msg)
	return append(b, '}')
}

// ErrorTypeFor names the Prometheus error type of a status.
func ErrorTypeFor(status int) string {
	switch {
	case status == 400:
		return errBadData
	case status == 422:
		return errExecution
	case status == 503:
		return errUnavailable
	case status >= 500:
		return errInternal
	default:
		return errBadData
	}
}

func (a *API) buildInfo() []byte {
	b := []byte(`{"status":"success","data":{"version":"3.0.0","revision":`)
	b = appendString(b, "dakkio "+a.cfg.Version)
	b = append(b, `,"branch":"dakkio","buildUser":"dakkio","buildDate":"","goVersion":`...)
	b = appendString(b, runtime.Version())
	return append(b, `}}`...)
}
