package store

import "time"

// The commands below are the only way metadata changes. Every field that must
// be the same on every replica (ids, hashes, times) is chosen by the node that
// proposes the command, never by Apply, so that replaying the log anywhere
// gives the same state.

// Bootstrap creates the initial organization, its first admin key and the
// operator token hash on a fresh cluster. A second Bootstrap is refused with
// ErrAlreadyInitialized.
type Bootstrap struct {
	Org               Org    `json:"org"`
	AdminKey          APIKey `json:"adminKey"`
	OperatorTokenHash string `json:"operatorTokenHash"`
}

// CreateOrg adds an organization and its first admin key.
type CreateOrg struct {
	Org      Org    `json:"org"`
	AdminKey APIKey `json:"adminKey"`
}

// UpdateOrg changes an organization's name or plan; nil fields stay.
type UpdateOrg struct {
	ID   string    `json:"id"`
	Name *string   `json:"name,omitempty"`
	Plan *string   `json:"plan,omitempty"`
	At   time.Time `json:"at"`
}

// CreateKey adds an API key. For bucket keys OrganizationID must own BucketID.
type CreateKey struct {
	Key APIKey `json:"key"`
}

// DeleteKey removes a bucket's key.
type DeleteKey struct {
	OrgID    string `json:"orgId"`
	BucketID string `json:"bucketId"`
	KeyID    string `json:"keyId"`
}

// CreateBucket adds a bucket; names are unique in an organization. Limits
// are the organization's plan as the proposer saw it.
type CreateBucket struct {
	Bucket Bucket     `json:"bucket"`
	Limits PlanLimits `json:"limits"`
	// Replicas are the nodes holding the bucket's points, first the
	// primary, as the leader placed them (empty: every node keeps its own).
	Replicas []string `json:"replicas,omitempty"`
}

// UpdateBucket changes a bucket; nil fields stay.
type UpdateBucket struct {
	OrgID         string    `json:"orgId"`
	ID            string    `json:"id"`
	Name          *string   `json:"name,omitempty"`
	Description   *string   `json:"description,omitempty"`
	RetentionDays *int      `json:"retentionDays,omitempty"`
	Status        *string   `json:"status,omitempty"`
	At            time.Time `json:"at"`
}

// DeleteBucket removes a bucket with its sources and keys.
type DeleteBucket struct {
	OrgID string `json:"orgId"`
	ID    string `json:"id"`
}

// DeletedBucket reports what a DeleteBucket removed.
type DeletedBucket struct {
	Bucket      Bucket `json:"bucket"`
	DataSources int    `json:"dataSources"`
	DataPoints  int64  `json:"dataPoints"`
	APIKeys     int    `json:"apiKeys"`
	AlertRules  int    `json:"alertRules"`
}

// CreateSource adds a data source; names are unique in a bucket.
type CreateSource struct {
	Source DataSource `json:"source"`
	Limits PlanLimits `json:"limits"`
}

// SetUsage records one node's API-call counts for a month: absolute
// values, so shipping them again is harmless. KeysUsed carries when keys
// were last used on that node.
type SetUsage struct {
	NodeID   string               `json:"nodeId"`
	Month    string               `json:"month"` // "2006-01"
	Counts   map[string]int64     `json:"counts"`
	KeysUsed map[string]time.Time `json:"keysUsed,omitempty"`
}

// DeleteAdminKey revokes an organization's admin key. It may be the
// organization's last: the operator can make another.
type DeleteAdminKey struct {
	OrgID string `json:"orgId"`
	KeyID string `json:"keyId"`
}

// RotateOperatorToken replaces the operator token: only its hash travels
// through the log, and the old token is refused from the apply on.
type RotateOperatorToken struct {
	TokenHash string `json:"tokenHash"`
}
