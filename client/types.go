package client

import "time"

// Bucket is a container of data sources and their points, with a retention.
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

// BucketWithStats is a bucket as GetBucket returns it.
type BucketWithStats struct {
	Bucket
	Stats BucketStats `json:"stats"`
}

// BucketStats counts what a bucket holds.
type BucketStats struct {
	DataSourceCount int   `json:"dataSourceCount"`
	DataPointCount  int64 `json:"dataPointCount"`
	APIKeyCount     int   `json:"apiKeyCount"`
}

// CreateBucketRequest is the body of CreateBucket; nil fields are not sent.
type CreateBucketRequest struct {
	Name          string  `json:"name"`
	Description   *string `json:"description,omitempty"`
	RetentionDays *int    `json:"retentionDays,omitempty"`
	Status        *string `json:"status,omitempty"`
}

// UpdateBucketRequest is the body of UpdateBucket; nil fields are not sent
// and stay unchanged.
type UpdateBucketRequest struct {
	Name          *string `json:"name,omitempty"`
	Description   *string `json:"description,omitempty"`
	RetentionDays *int    `json:"retentionDays,omitempty"`
	Status        *string `json:"status,omitempty"`
}

// DeleteBucketResult is what DeleteBucket removed.
type DeleteBucketResult struct {
	DeletedBucket    DeletedBucket    `json:"deletedBucket"`
	DeletedResources DeletedResources `json:"deletedResources"`
}

// DeletedBucket names the deleted bucket.
type DeletedBucket struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
}

// DeletedResources counts what a bucket deletion cascaded to.
type DeletedResources struct {
	DataSources int   `json:"dataSources"`
	DataPoints  int64 `json:"dataPoints"`
	APIKeys     int   `json:"apiKeys"`
	AlertRules  int   `json:"alertRules"`
}

// APIKey is a stored key as listed; the secret itself is never returned again.
type APIKey struct {
	ID         string     `json:"_id"`
	Name       string     `json:"name"`
	Type       KeyType    `json:"type"`
	KeyPrefix  string     `json:"keyPrefix"`
	BucketID   string     `json:"bucketId"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

// AdminKey is an organization's admin key as the operator lists it; the
// secret itself is never returned again.
type AdminKey struct {
	ID             string     `json:"_id"`
	Name           string     `json:"name"`
	Type           KeyType    `json:"type"`
	KeyPrefix      string     `json:"keyPrefix"`
	OrganizationID string     `json:"organizationId"`
	CreatedAt      time.Time  `json:"createdAt"`
	LastUsedAt     *time.Time `json:"lastUsedAt"`
}

// CreatedKey is a freshly created key; Key is shown in this answer only.
type CreatedKey struct {
	ID             string    `json:"_id"`
	Name           string    `json:"name"`
	Type           KeyType   `json:"type"`
	Key            string    `json:"key"`
	KeyPrefix      string    `json:"keyPrefix"`
	BucketID       string    `json:"bucketId,omitempty"`
	OrganizationID string    `json:"organizationId,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
}

// CreateKeyRequest is the body of CreateKey; Type is KeyTypeWrite or
// KeyTypeRead.
type CreateKeyRequest struct {
	Name string  `json:"name"`
	Type KeyType `json:"type"`
}

// DeletedKey names the key DeleteKey revoked.
type DeletedKey struct {
	ID   string  `json:"_id"`
	Name string  `json:"name"`
	Type KeyType `json:"type"`
}

// DataSource is a producer of points in a bucket, with the schema of its values.
type DataSource struct {
	ID           string           `json:"_id"`
	BucketID     string           `json:"bucketId"`
	Name         string           `json:"name"`
	Type         SourceType       `json:"type"`
	Description  string           `json:"description"`
	Schema       map[string]Field `json:"schema"`
	Downsampling bool             `json:"downsampling"`
	Status       string           `json:"status"`
	CreatedAt    time.Time        `json:"createdAt"`
	UpdatedAt    time.Time        `json:"updatedAt"`
}

// Field describes one value of a data source's points.
type Field struct {
	Type        FieldType `json:"type"`
	Unit        string    `json:"unit,omitempty"`
	Description string    `json:"description,omitempty"`
}

// CreateSourceRequest is the body of CreateSource; nil and empty optional
// fields are not sent, so the server's defaults apply.
type CreateSourceRequest struct {
	Name         string           `json:"name"`
	Type         SourceType       `json:"type,omitempty"`
	Description  *string          `json:"description,omitempty"`
	Schema       map[string]Field `json:"schema"`
	Downsampling *bool            `json:"downsampling,omitempty"`
}

// Org is an organization, as operators manage it.
type Org struct {
	ID        string    `json:"_id"`
	Name      string    `json:"name"`
	Plan      string    `json:"plan"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// CreateOrgRequest is the body of CreateOrg; an empty Plan is not sent.
type CreateOrgRequest struct {
	Name string `json:"name"`
	Plan string `json:"plan,omitempty"`
}

// CreatedOrg is a new organization with its first admin key.
type CreatedOrg struct {
	Organization Org        `json:"organization"`
	AdminKey     CreatedKey `json:"adminKey"`
}

// UpdateOrgRequest is the body of UpdateOrg; nil fields are not sent.
type UpdateOrgRequest struct {
	Name *string `json:"name,omitempty"`
	Plan *string `json:"plan,omitempty"`
}

// ClusterStatus is the cluster as the answering node sees it.
type ClusterStatus struct {
	NodeID   string       `json:"nodeId"`
	LeaderID string       `json:"leaderId"`
	Nodes    []NodeStatus `json:"nodes"`
	Raft     RaftStatus   `json:"raft"`
	// Placement maps each bucket id to its replicas' node ids, primary
	// first (empty on a single node).
	Placement map[string][]string `json:"placement,omitempty"`
	// Moves are the buckets being copied to new replicas (pending) or off
	// old ones (leaving).
	Moves map[string]BucketMove `json:"moves,omitempty"`
	// HintedHandoff is the answering node's queues of writes waiting for
	// replicas that missed them, one per target node.
	HintedHandoff []HintQueue `json:"hintedHandoff,omitempty"`
	// Repair is the answering node's anti-entropy progress.
	Repair *RepairStatus `json:"repair,omitempty"`
	// Replication counts the answering node's replicated writes and reads.
	Replication *ReplicationCounters `json:"replication,omitempty"`
}

// BucketMove is a bucket's placement while it moves.
type BucketMove struct {
	Bucket   string   `json:"bucket,omitempty"`
	Replicas []string `json:"replicas"`
	Pending  []string `json:"pending,omitempty"`
	Leaving  []string `json:"leaving,omitempty"`
}

// HintQueue is one target's hinted-handoff queue on the answering node.
type HintQueue struct {
	Target   string     `json:"target"`
	Hints    int64      `json:"hints"`
	Bytes    int64      `json:"bytes"`
	Oldest   *time.Time `json:"oldest,omitempty"`
	Dropped  int64      `json:"dropped"`
	Replayed int64      `json:"replayed"`
}

// RepairStatus is anti-entropy's progress on the answering node.
type RepairStatus struct {
	Passes         int64      `json:"passes"`
	Running        bool       `json:"running"`
	PassStartedAt  *time.Time `json:"passStartedAt,omitempty"`
	LastPassEnded  *time.Time `json:"lastPassEndedAt,omitempty"`
	BucketsTotal   int        `json:"bucketsTotal"`
	BucketsDone    int        `json:"bucketsDone"`
	HoursCompared  int64      `json:"hoursCompared"`
	HoursRepaired  int64      `json:"hoursRepaired"`
	PointsRepaired int64      `json:"pointsRepaired"`
	BucketsBehind  int        `json:"bucketsBehind"`
	// MovedAwayDropped counts copies of buckets moved to other replicas
	// that the node deleted.
	MovedAwayDropped int64  `json:"movedAwayCopiesDropped"`
	LastError        string `json:"lastError,omitempty"`
}

// ReplicationCounters count what the answering node's replicated write and
// read paths did since it started.
type ReplicationCounters struct {
	WritesAcked       int64 `json:"writesAcknowledged"`
	WritesUnavailable int64 `json:"writesUnavailable"`
	ReplicaWrites     int64 `json:"replicaWritesServed"`
	ReadFailovers     int64 `json:"readFailovers"`
	ReadHedges        int64 `json:"readHedges"`
	PartialReads      int64 `json:"partialReads"`
}

// RebalanceResult lists the moves a rebalance started.
type RebalanceResult struct {
	Moves []BucketMove `json:"moves"`
}

// NodeStatus is one member of the cluster.
type NodeStatus struct {
	NodeID      string `json:"nodeId"`
	HTTPAddress string `json:"httpAddress"`
	RaftAddress string `json:"raftAddress"`
	State       string `json:"state"`
	Voter       bool   `json:"voter"`
	Healthy     bool   `json:"healthy"`
}

// RaftStatus is the answering node's Raft state.
type RaftStatus struct {
	NodeID        string `json:"nodeId"`
	RaftAddress   string `json:"raftAddress"`
	State         string `json:"state"`
	LeaderID      string `json:"leaderId"`
	LeaderAddress string `json:"leaderAddress"`
	Term          uint64 `json:"term"`
	LastIndex     uint64 `json:"lastIndex"`
	CommitIndex   uint64 `json:"commitIndex"`
	AppliedIndex  uint64 `json:"appliedIndex"`
}
