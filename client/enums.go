package client

// Typed values of the API's enumerations. The fields that take them have
// these types, so an editor lists the choices; the server still judges
// every value (an unknown one is a 400).

// Aggregation is how a query folds the points of a window.
type Aggregation string

// Aggregations of QueryRequest.
const (
	AggregationAvg   Aggregation = "avg"
	AggregationMin   Aggregation = "min"
	AggregationMax   Aggregation = "max"
	AggregationSum   Aggregation = "sum"
	AggregationCount Aggregation = "count"
	AggregationFirst Aggregation = "first"
	AggregationLast  Aggregation = "last"
)

// GroupBy is the window of an aggregated query.
type GroupBy string

// Windows of QueryRequest.
const (
	GroupByMinute GroupBy = "minute"
	GroupByHour   GroupBy = "hour"
	GroupByDay    GroupBy = "day"
	GroupByWeek   GroupBy = "week"
	GroupByMonth  GroupBy = "month"
)

// SortOrder orders a query's rows by timestamp.
type SortOrder string

// Orders of QueryRequest.
const (
	SortAsc  SortOrder = "asc"
	SortDesc SortOrder = "desc"
)

// Consistency is how many of a bucket's replicas must store a write before
// the server answers.
type Consistency string

// Consistency levels of WritePointRequest and WriteBatchRequest; the empty
// level leaves the node's default (quorum).
const (
	ConsistencyOne    Consistency = "one"
	ConsistencyQuorum Consistency = "quorum"
	ConsistencyAll    Consistency = "all"
)

// KeyType is what an API key may do: admin keys the whole organization,
// write and read keys one bucket.
type KeyType string

// Key types; CreateKey takes KeyTypeWrite or KeyTypeRead.
const (
	KeyTypeAdmin KeyType = "admin"
	KeyTypeWrite KeyType = "write"
	KeyTypeRead  KeyType = "read"
)

// SourceType is what kind of producer a data source is.
type SourceType string

// Data source types; the server's default is SourceTypeSensor.
const (
	SourceTypeSensor      SourceType = "sensor"
	SourceTypeAPI         SourceType = "api"
	SourceTypeWebhook     SourceType = "webhook"
	SourceTypeManual      SourceType = "manual"
	SourceTypeApplication SourceType = "application"
	SourceTypeService     SourceType = "service"
)

// FieldType is the type of one value of a data source's schema.
type FieldType string

// Field types of a schema.
const (
	FieldTypeNumber  FieldType = "number"
	FieldTypeString  FieldType = "string"
	FieldTypeBoolean FieldType = "boolean"
)

// Statuses and plans are plain strings in the requests (their fields
// predate the typed ones above), so these constants are untyped:
// client.Ptr(client.AlertPaused) is a *string.

// Bucket statuses.
const (
	BucketActive   = "active"
	BucketArchived = "archived"
)

// Alert rule statuses.
const (
	AlertActive = "active"
	AlertPaused = "paused"
)

// Organization plans, which set its limits.
const (
	PlanFree       = "free"
	PlanPro        = "pro"
	PlanEnterprise = "enterprise"
)

// Ptr returns a pointer to v, for the optional fields of requests:
//
//	client.UpdateBucketRequest{RetentionDays: client.Ptr(90)}
func Ptr[T any](v T) *T { return &v }
