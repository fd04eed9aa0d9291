package store

import "time"

// Plans an organization can be on.
const (
	PlanFree       = "free"
	PlanPro        = "pro"
	PlanEnterprise = "enterprise"
)

// Bucket statuses.
const (
	BucketActive   = "active"
	BucketArchived = "archived"
)

// KeyType is the scope of an API key.
type KeyType string

// Key types.
const (
	KeyAdmin KeyType = "admin"
	KeyWrite KeyType = "write"
	KeyRead  KeyType = "read"
)

// Org is an organization: the unit of isolation and of billing.
type Org struct {
	ID        string    `json:"_id"`
	Name      string    `json:"name"`
	Plan      string    `json:"plan"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Bucket holds data sources and their points.
type Bucket struct {
	ID             string    `json:"_id"`
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	OrganizationID string    `json:"organizationId"`
	RetentionDays  int       `json:"retentionDays"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// BucketStats counts what a bucket holds.
type BucketStats struct {
	DataSourceCount int   `json:"dataSourceCount"`
	DataPointCount  int64 `json:"dataPointCount"`
	APIKeyCount     int   `json:"apiKeyCount"`
}

// APIKey is a stored key: its hash, never the key itself.
type APIKey struct {
	ID             string    `json:"_id"`
	Name           string    `json:"name"`
	Type           KeyType   `json:"type"`
	Hash           string    `json:"hash"`
	KeyPrefix      string    `json:"keyPrefix"`
	OrganizationID string    `json:"organizationId"`
	BucketID       string    `json:"bucketId,omitempty"` // empty for admin keys
	CreatedAt      time.Time `json:"createdAt"`
}

// Field describes one value of a data source's schema.
type Field struct {
	Type        string `json:"type"` // number, string or boolean
	Unit        string `json:"unit,omitempty"`
	Description string `json:"description,omitempty"`
}

// DataSource is a device or application writing points into a bucket.
type DataSource struct {
	ID             string           `json:"_id"`
	BucketID       string           `json:"bucketId"`
	OrganizationID string           `json:"organizationId"`
	Name           string           `json:"name"`
	Type           string           `json:"type"`
	Description    string           `json:"description"`
	Schema         map[string]Field `json:"schema"`
	Downsampling   bool             `json:"downsampling"`
	Status         string           `json:"status"`
	CreatedAt      time.Time        `json:"createdAt"`
	UpdatedAt      time.Time        `json:"updatedAt"`
	// Tags are the tags of the series an ingest protocol created this
	// source for (line protocol tags, Prometheus labels); none otherwise.
	Tags map[string]string `json:"tags,omitempty"`
}

// Principal is what an API key authenticates as.
type Principal struct {
	KeyID    string
	OrgID    string
	BucketID string // empty for admin keys
	Type     KeyType
}
