package store

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"
)

// State is the metadata of the cluster as of the last applied Raft entry. The
// apply methods are called by one goroutine (the FSM) in log order; readers may
// call the other methods from anywhere. Values handed out are copies.
type State struct {
	mu   sync.RWMutex
	data *tables
	keys *KeyCache
}

// tables is the state proper plus its indexes. Restore builds a new one and
// swaps it in whole.
type tables struct {
	Initialized       bool
	OperatorTokenHash string

	orgs      map[string]*Org
	orgOrder  []string
	orgByName map[string]string

	buckets      map[string]*Bucket
	bucketsByOrg map[string][]string
	bucketByName map[string]string // org + "\x00" + name

	apiKeys      map[string]*APIKey
	keyByHash    map[string]string
	keysByBucket map[string][]string
	keysByOrg    map[string][]string // admin keys

	sources         map[string]*DataSource
	sourcesByBucket map[string][]string
	sourceByName    map[string]string // bucket + "\x00" + name

	alerts         map[string]*AlertRule
	alertsByBucket map[string][]string
	alertsBySource map[string][]string
	events         map[string][]*AlertEvent // by rule, oldest first

	webhooks         map[string]*Webhook
	webhooksByBucket map[string][]string
	deliveries       map[string][]*WebhookDelivery // by webhook, oldest first
	deletedSources   map[string]string             // source -> its bucket

	usage       map[string]map[string]map[string]int64 // month -> org -> node -> calls
	keyLastUsed map[string]time.Time

	placement map[string][]string // bucket -> replica node ids
	pending   map[string][]string // bucket -> replicas still copying it
	leaving   map[string][]string // bucket -> replicas it is moving off
}

func newTables() *tables {
	return &tables{
		orgs: map[string]*Org{}, orgByName: map[string]string{},
		buckets: map[string]*Bucket{}, bucketsByOrg: map[string][]string{}, bucketByName: map[string]string{},
		apiKeys: map[string]*APIKey{}, keyByHash: map[string]string{}, keysByBucket: map[string][]string{}, keysByOrg: map[string][]string{},
		sources: map[string]*DataSource{}, sourcesByBucket: map[string][]string{}, sourceByName: map[string]string{},
		alerts: map[string]*AlertRule{}, alertsByBucket: map[string][]string{}, alertsBySource: map[string][]string{},
		events:   map[string][]*AlertEvent{},
		webhooks: map[string]*Webhook{}, webhooksByBucket: map[string][]string{}, deliveries: map[string][]*WebhookDelivery{},
		deletedSources: map[string]string{},
		usage:          map[string]map[string]map[string]int64{}, keyLastUsed: map[string]time.Time{},
		placement: map[string][]string{}, pending: map[string][]string{}, leaving: map[string][]string{},
	}
}

// NewState returns an empty state whose key lookups are cached in a fastcache
// of cacheBytes bytes.
func NewState(cacheBytes int) *State {
	return &State{data: newTables(), keys: newKeyCache(cacheBytes)}
}

// Initialized reports whether the initial organization exists.
func (s *State) Initialized() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.data.Initialized
}

// CheckOperatorToken reports whether token is the operator token.
func (s *State) CheckOperatorToken(tokenHash string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	want := s.data.OperatorTokenHash
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(tokenHash)) == 1
}

// Authenticate returns the principal of the key with this hash. Hits are
// served from the fastcache; a miss fills it while holding the read lock, so a
// concurrent delete (which takes the write lock and evicts) cannot be undone by
// a stale fill.
func (s *State) Authenticate(keyHash string) (Principal, bool) {
	if p, ok := s.keys.get(keyHash); ok {
		return p, true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.data.keyByHash[keyHash]
	if !ok {
		return Principal{}, false
	}
	k := s.data.apiKeys[id]
	p := Principal{KeyID: k.ID, OrgID: k.OrganizationID, BucketID: k.BucketID, Type: k.Type}
	s.keys.set(keyHash, p)
	return p, true
}

// Org returns an organization.
func (s *State) Org(id string) (Org, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.data.orgs[id]
	if !ok {
		return Org{}, errorf(ErrNotFound, "Organization not found")
	}
	return *o, nil
}

// Orgs returns a page of organizations in creation order and their total.
func (s *State) Orgs(offset, limit int) ([]Org, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return page(s.data.orgOrder, offset, limit, func(id string) Org { return *s.data.orgs[id] })
}

// Bucket returns a bucket of the organization; another organization's bucket
// is not found.
func (s *State) Bucket(orgID, id string) (Bucket, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.data.buckets[id]
	if !ok || b.OrganizationID != orgID {
		return Bucket{}, errorf(ErrNotFound, "Bucket not found")
	}
	return *b, nil
}

// Buckets returns a page of the organization's buckets and their total.
func (s *State) Buckets(orgID string, offset, limit int) ([]Bucket, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return page(s.data.bucketsByOrg[orgID], offset, limit, func(id string) Bucket { return *s.data.buckets[id] })
}

// BucketRetention returns a bucket's retention in days; false if it is gone.
func (s *State) BucketRetention(id string) (int, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.data.buckets[id]
	if !ok {
		return 0, false
	}
	return b.RetentionDays, true
}

// AdminKeyCount returns how many admin keys an organization has.
func (s *State) AdminKeyCount(orgID string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.data.keysByOrg[orgID])
}

// BucketStatus returns a bucket's status; false if it is gone.
func (s *State) BucketStatus(id string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.data.buckets[id]
	if !ok {
		return "", false
	}
	return b.Status, true
}

// BucketCounts returns how many sources and bucket keys a bucket has.
func (s *State) BucketCounts(bucketID string) (sources, keys int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.data.sourcesByBucket[bucketID]), len(s.data.keysByBucket[bucketID])
}

// Keys returns a page of a bucket's keys and their total.
func (s *State) Keys(bucketID string, offset, limit int) ([]APIKey, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return page(s.data.keysByBucket[bucketID], offset, limit, func(id string) APIKey { return *s.data.apiKeys[id] })
}

// Sources returns a page of a bucket's data sources and their total.
func (s *State) Sources(bucketID string, offset, limit int) ([]DataSource, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return page(s.data.sourcesByBucket[bucketID], offset, limit, func(id string) DataSource { return s.data.sources[id].clone() })
}

// SourceByName returns the data source of the bucket with that name.
func (s *State) SourceByName(bucketID, name string) (DataSource, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	src, err := s.sourceNamed(bucketID, name)
	if err != nil {
		return DataSource{}, err
	}
	return src.clone(), nil
}

// sourceNamed finds the bucket's source by name; s.mu is held.
func (s *State) sourceNamed(bucketID, name string) (*DataSource, error) {
	id, ok := s.data.sourceByName[bucketID+"\x00"+name]
	if !ok {
		return nil, errorf(ErrNotFound, "Data source not found")
	}
	return s.data.sources[id], nil
}

// BucketByName returns the organization's bucket with that name.
func (s *State) BucketByName(orgID, name string) (Bucket, error) {
	s.mu.RLock()
	id, ok := s.data.bucketByName[orgID+"\x00"+name]
	s.mu.RUnlock()
	if !ok {
		return Bucket{}, errorf(ErrNotFound, "Bucket not found")
	}
	return s.Bucket(orgID, id)
}

// OrgSourceCount returns how many data sources the organization has, the
// number a plan's MaxDataSources caps.
func (s *State) OrgSourceCount(orgID string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, bid := range s.data.bucketsByOrg[orgID] {
		n += len(s.data.sourcesByBucket[bid])
	}
	return n
}

// Source returns a data source of the bucket.
func (s *State) Source(bucketID, id string) (DataSource, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	src, ok := s.data.sources[id]
	if !ok || src.BucketID != bucketID {
		return DataSource{}, errorf(ErrNotFound, "Data source not found")
	}
	return src.clone(), nil
}

// SharedSourceByName is SourceByName without the copy, read-only as
// SharedSource's: the protocol writes look a source up by name per request.
func (s *State) SharedSourceByName(bucketID, name string) (DataSource, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	src, err := s.sourceNamed(bucketID, name)
	if err != nil {
		return DataSource{}, err
	}
	return *src, nil
}

// SharedSource is Source without the copy: the returned value's Schema and
// Tags maps are the state's own and must only be read. Updates replace a
// source's maps rather than change them (ApplyUpdateSource), so a value
// read here stays as it was when read. Ingest looks up a source per batch.
func (s *State) SharedSource(bucketID, id string) (DataSource, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	src, ok := s.data.sources[id]
	if !ok || src.BucketID != bucketID {
		return DataSource{}, errorf(ErrNotFound, "Data source not found")
	}
	return *src, nil
}

func page[T any](ids []string, offset, limit int, get func(string) T) ([]T, int) {
	total := len(ids)
	if offset >= total {
		return []T{}, total
	}
	end := min(total, offset+limit)
	out := make([]T, 0, end-offset)
	for _, id := range ids[offset:end] {
		out = append(out, get(id))
	}
	return out, total
}

// ApplyBootstrap applies a Bootstrap command.
func (s *State) ApplyBootstrap(c Bootstrap) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data.Initialized {
		return errorf(ErrAlreadyInitialized, "cluster already initialized")
	}
	if err := s.data.checkNewKey(c.AdminKey); err != nil {
		return err
	}
	if err := s.data.addOrg(c.Org); err != nil {
		return err
	}
	s.data.addKey(c.AdminKey)
	s.data.Initialized = true
	s.data.OperatorTokenHash = c.OperatorTokenHash
	return nil
}

// ApplyCreateOrg applies a CreateOrg command.
func (s *State) ApplyCreateOrg(c CreateOrg) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.data.checkNewKey(c.AdminKey); err != nil {
		return err
	}
	if err := s.data.addOrg(c.Org); err != nil {
		return err
	}
	s.data.addKey(c.AdminKey)
	return nil
}

// ApplyUpdateOrg applies an UpdateOrg command and returns the result.
func (s *State) ApplyUpdateOrg(c UpdateOrg) (Org, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.data.orgs[c.ID]
	if !ok {
		return Org{}, errorf(ErrNotFound, "Organization not found")
	}
	if c.Name != nil && *c.Name != o.Name {
		if _, taken := s.data.orgByName[*c.Name]; taken {
			return Org{}, errorf(ErrConflict, "An organization named %q already exists", *c.Name)
		}
		delete(s.data.orgByName, o.Name)
		s.data.orgByName[*c.Name] = o.ID
		o.Name = *c.Name
	}
	if c.Plan != nil {
		o.Plan = *c.Plan
	}
	o.UpdatedAt = c.At
	return *o, nil
}

// ApplyCreateKey applies a CreateKey command.
func (s *State) ApplyCreateKey(c CreateKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := c.Key
	if _, ok := s.data.orgs[k.OrganizationID]; !ok {
		return errorf(ErrNotFound, "Organization not found")
	}
	if k.Type != KeyAdmin {
		b, ok := s.data.buckets[k.BucketID]
		if !ok || b.OrganizationID != k.OrganizationID {
			return errorf(ErrNotFound, "Bucket not found")
		}
	}
	if err := s.data.checkNewKey(k); err != nil {
		return err
	}
	s.data.addKey(k)
	return nil
}

// ApplyDeleteKey applies a DeleteKey command and returns the deleted key.
func (s *State) ApplyDeleteKey(c DeleteKey) (APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data.buckets[c.BucketID]
	if !ok || b.OrganizationID != c.OrgID {
		return APIKey{}, errorf(ErrNotFound, "Bucket not found")
	}
	k, ok := s.data.apiKeys[c.KeyID]
	if !ok || k.BucketID != c.BucketID {
		return APIKey{}, errorf(ErrNotFound, "API key not found")
	}
	s.removeKey(k)
	return *k, nil
}

// ApplyCreateBucket applies a CreateBucket command.
func (s *State) ApplyCreateBucket(c CreateBucket) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := c.Bucket
	if _, ok := s.data.orgs[b.OrganizationID]; !ok {
		return errorf(ErrNotFound, "Organization not found")
	}
	nameKey := b.OrganizationID + "\x00" + b.Name
	if _, taken := s.data.bucketByName[nameKey]; taken {
		return errorf(ErrConflict, "A bucket named %q already exists", b.Name)
	}
	if _, dup := s.data.buckets[b.ID]; dup {
		return errorf(ErrConflict, "Bucket %s already exists", b.ID)
	}
	if max := c.Limits.MaxBuckets; max > 0 && len(s.data.bucketsByOrg[b.OrganizationID]) >= max {
		return errorf(ErrPlanLimit, "Plan limit reached: the %s plan allows %d buckets", s.data.orgs[b.OrganizationID].Plan, max)
	}
	s.data.buckets[b.ID] = &b
	s.data.bucketsByOrg[b.OrganizationID] = append(s.data.bucketsByOrg[b.OrganizationID], b.ID)
	s.data.bucketByName[nameKey] = b.ID
	if len(c.Replicas) > 0 {
		s.data.placement[b.ID] = slices.Clone(c.Replicas)
	}
	return nil
}

// BucketReplicas returns the nodes holding a bucket's points, primary
// first; empty for a bucket placed before placement existed (or on a node
// that does not know it), which each node keeps locally.
func (s *State) BucketReplicas(id string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.data.placement[id])
}

// Placement returns every bucket's replicas.
func (s *State) Placement() map[string][]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string][]string, len(s.data.placement))
	for b, r := range s.data.placement {
		out[b] = slices.Clone(r)
	}
	return out
}

// ApplyUpdateBucket applies an UpdateBucket command and returns the result.
func (s *State) ApplyUpdateBucket(c UpdateBucket) (Bucket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data.buckets[c.ID]
	if !ok || b.OrganizationID != c.OrgID {
		return Bucket{}, errorf(ErrNotFound, "Bucket not found")
	}
	var changed []string
	if c.Name != nil && *c.Name != b.Name {
		changed = append(changed, "name")
		newKey := b.OrganizationID + "\x00" + *c.Name
		if _, taken := s.data.bucketByName[newKey]; taken {
			return Bucket{}, errorf(ErrConflict, "A bucket named %q already exists", *c.Name)
		}
		delete(s.data.bucketByName, b.OrganizationID+"\x00"+b.Name)
		s.data.bucketByName[newKey] = b.ID
		b.Name = *c.Name
	}
	if c.Description != nil && *c.Description != b.Description {
		changed = append(changed, "description")
		b.Description = *c.Description
	}
	if c.RetentionDays != nil && *c.RetentionDays != b.RetentionDays {
		changed = append(changed, "retentionDays")
		b.RetentionDays = *c.RetentionDays
	}
	if c.Status != nil && *c.Status != b.Status {
		changed = append(changed, "status")
		b.Status = *c.Status
	}
	b.UpdatedAt = c.At
	if len(changed) > 0 {
		s.data.publish(b.ID, EventBucketUpdated, "bucket:"+b.ID+":"+FormatTime(c.At), c.At, bucketUpdatedData(*b, changed))
	}
	return *b, nil
}

// ApplyDeleteBucket applies a DeleteBucket command: the bucket goes with its
// sources and keys, and its keys leave the cache before the lock is released.
func (s *State) ApplyDeleteBucket(c DeleteBucket) (DeletedBucket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data.buckets[c.ID]
	if !ok || b.OrganizationID != c.OrgID {
		return DeletedBucket{}, errorf(ErrNotFound, "Bucket not found")
	}
	out := DeletedBucket{Bucket: *b}
	for _, id := range slices.Clone(s.data.keysByBucket[b.ID]) {
		s.removeKey(s.data.apiKeys[id])
		out.APIKeys++
	}
	for _, id := range slices.Clone(s.data.alertsByBucket[b.ID]) {
		s.data.removeAlert(s.data.alerts[id])
		out.AlertRules++
	}
	delete(s.data.alertsByBucket, b.ID)
	for _, id := range slices.Clone(s.data.webhooksByBucket[b.ID]) {
		s.data.removeWebhook(s.data.webhooks[id])
	}
	delete(s.data.webhooksByBucket, b.ID)
	for _, id := range s.data.sourcesByBucket[b.ID] {
		delete(s.data.alertsBySource, id)
		src := s.data.sources[id]
		delete(s.data.sourceByName, b.ID+"\x00"+src.Name)
		delete(s.data.sources, id)
		out.DataSources++
	}
	delete(s.data.sourcesByBucket, b.ID)
	delete(s.data.keysByBucket, b.ID)
	delete(s.data.bucketByName, b.OrganizationID+"\x00"+b.Name)
	delete(s.data.placement, b.ID)
	delete(s.data.pending, b.ID)
	delete(s.data.leaving, b.ID)
	s.data.bucketsByOrg[b.OrganizationID] = remove(s.data.bucketsByOrg[b.OrganizationID], b.ID)
	delete(s.data.buckets, b.ID)
	return out, nil
}

// ApplyCreateSource applies a CreateSource command.
func (s *State) ApplyCreateSource(c CreateSource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := c.Source
	b, ok := s.data.buckets[src.BucketID]
	if !ok || b.OrganizationID != src.OrganizationID {
		return errorf(ErrNotFound, "Bucket not found")
	}
	if b.Status == BucketArchived {
		return errorf(ErrConflict, "Bucket is archived")
	}
	nameKey := src.BucketID + "\x00" + src.Name
	if _, taken := s.data.sourceByName[nameKey]; taken {
		return errorf(ErrConflict, "A data source named %q already exists in this bucket", src.Name)
	}
	if _, dup := s.data.sources[src.ID]; dup {
		return errorf(ErrConflict, "Data source %s already exists", src.ID)
	}
	if max := c.Limits.MaxDataSources; max > 0 {
		n := 0
		for _, bid := range s.data.bucketsByOrg[src.OrganizationID] {
			n += len(s.data.sourcesByBucket[bid])
		}
		if n >= max {
			return errorf(ErrPlanLimit, "Plan limit reached: the %s plan allows %d data sources", s.data.orgs[src.OrganizationID].Plan, max)
		}
	}
	s.data.sources[src.ID] = &src
	s.data.sourcesByBucket[src.BucketID] = append(s.data.sourcesByBucket[src.BucketID], src.ID)
	s.data.sourceByName[nameKey] = src.ID
	return nil
}

func (t *tables) addOrg(o Org) error {
	if _, taken := t.orgByName[o.Name]; taken {
		return errorf(ErrConflict, "An organization named %q already exists", o.Name)
	}
	if _, dup := t.orgs[o.ID]; dup {
		return errorf(ErrConflict, "Organization %s already exists", o.ID)
	}
	t.orgs[o.ID] = &o
	t.orgOrder = append(t.orgOrder, o.ID)
	t.orgByName[o.Name] = o.ID
	return nil
}

// checkNewKey refuses a key whose id or hash is already taken: either would
// let one key's secret authenticate as another.
func (t *tables) checkNewKey(k APIKey) error {
	if _, dup := t.keyByHash[k.Hash]; dup {
		return errorf(ErrConflict, "API key already exists")
	}
	if _, dup := t.apiKeys[k.ID]; dup {
		return errorf(ErrConflict, "API key %s already exists", k.ID)
	}
	return nil
}

func (t *tables) addKey(k APIKey) {
	t.apiKeys[k.ID] = &k
	t.keyByHash[k.Hash] = k.ID
	if k.Type == KeyAdmin {
		t.keysByOrg[k.OrganizationID] = append(t.keysByOrg[k.OrganizationID], k.ID)
	} else {
		t.keysByBucket[k.BucketID] = append(t.keysByBucket[k.BucketID], k.ID)
	}
}

// removeKey must run under the write lock: evicting from the cache there is
// what makes a deleted key fail on the very next request.
func (s *State) removeKey(k *APIKey) {
	s.keys.del(k.Hash)
	delete(s.data.keyLastUsed, k.ID)
	delete(s.data.keyByHash, k.Hash)
	delete(s.data.apiKeys, k.ID)
	if k.Type == KeyAdmin {
		s.data.keysByOrg[k.OrganizationID] = remove(s.data.keysByOrg[k.OrganizationID], k.ID)
	} else {
		s.data.keysByBucket[k.BucketID] = remove(s.data.keysByBucket[k.BucketID], k.ID)
	}
}

// clone returns a copy that shares nothing mutable with the state.
func (d *DataSource) clone() DataSource {
	c := *d
	c.Schema = maps.Clone(d.Schema)
	c.Tags = maps.Clone(d.Tags)
	return c
}

func remove(ids []string, id string) []string {
	if i := slices.Index(ids, id); i >= 0 {
		return slices.Delete(ids, i, i+1)
	}
	return ids
}

// snapshot is the serialized form of tables: every record in creation order,
// from which the indexes are rebuilt.
type snapshot struct {
	Initialized       bool              `json:"initialized"`
	OperatorTokenHash string            `json:"operatorTokenHash"`
	Orgs              []Org             `json:"orgs"`
	Buckets           []Bucket          `json:"buckets"`
	APIKeys           []APIKey          `json:"apiKeys"`
	Sources           []DataSource      `json:"sources"`
	Alerts            []AlertRule       `json:"alerts"`
	Events            []AlertEvent      `json:"events"`
	Webhooks          []Webhook         `json:"webhooks,omitempty"`
	Deliveries        []WebhookDelivery `json:"webhookDeliveries,omitempty"`
	DeletedSources    map[string]string `json:"deletedSources,omitempty"`

	Usage       map[string]map[string]map[string]int64 `json:"usage"`
	KeyLastUsed map[string]time.Time                   `json:"keyLastUsed"`
	Placement   map[string][]string                    `json:"placement,omitempty"`
	Pending     map[string][]string                    `json:"pending,omitempty"`
	Leaving     map[string][]string                    `json:"leaving,omitempty"`
}

// Snapshot returns a point-in-time copy to be written later by WriteSnapshot;
// taking it is cheap, so the FSM is not held up while it is written.
func (s *State) Snapshot() any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.data
	snap := snapshot{Initialized: t.Initialized, OperatorTokenHash: t.OperatorTokenHash,
		Usage: cloneUsage(t.usage), KeyLastUsed: maps.Clone(t.keyLastUsed), Placement: maps.Clone(t.placement),
		Pending: maps.Clone(t.pending), Leaving: maps.Clone(t.leaving), DeletedSources: maps.Clone(t.deletedSources)}
	for _, id := range t.orgOrder {
		snap.Orgs = append(snap.Orgs, *t.orgs[id])
		for _, bid := range t.bucketsByOrg[id] {
			snap.Buckets = append(snap.Buckets, *t.buckets[bid])
			for _, kid := range t.keysByBucket[bid] {
				snap.APIKeys = append(snap.APIKeys, *t.apiKeys[kid])
			}
			for _, sid := range t.sourcesByBucket[bid] {
				snap.Sources = append(snap.Sources, *t.sources[sid])
			}
			for _, aid := range t.alertsByBucket[bid] {
				snap.Alerts = append(snap.Alerts, *t.alerts[aid])
				for _, e := range t.events[aid] {
					snap.Events = append(snap.Events, *e)
				}
			}
			for _, wid := range t.webhooksByBucket[bid] {
				snap.Webhooks = append(snap.Webhooks, t.webhooks[wid].clone())
				for _, d := range t.deliveries[wid] {
					snap.Deliveries = append(snap.Deliveries, *d)
				}
			}
		}
		for _, kid := range t.keysByOrg[id] {
			snap.APIKeys = append(snap.APIKeys, *t.apiKeys[kid])
		}
	}
	return snap
}

// WriteSnapshot writes a value returned by Snapshot.
func WriteSnapshot(w io.Writer, snap any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // webhook payloads keep their bytes
	return enc.Encode(snap)
}

// Restore replaces the whole state with a snapshot's.
func (s *State) Restore(r io.Reader) error {
	var snap snapshot
	if err := json.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("cannot decode metadata snapshot: %w", err)
	}
	t, err := snap.tables()
	if err != nil {
		return err
	}
	s.swap(t)
	return nil
}

// tables builds the state a snapshot describes.
func (snap snapshot) tables() (*tables, error) {
	t := newTables()
	t.Initialized, t.OperatorTokenHash = snap.Initialized, snap.OperatorTokenHash
	for _, o := range snap.Orgs {
		if err := t.addOrg(o); err != nil {
			return nil, fmt.Errorf("cannot restore organization %s: %w", o.ID, err)
		}
	}
	for _, b := range snap.Buckets {
		t.buckets[b.ID] = &b
		t.bucketsByOrg[b.OrganizationID] = append(t.bucketsByOrg[b.OrganizationID], b.ID)
		t.bucketByName[b.OrganizationID+"\x00"+b.Name] = b.ID
	}
	for _, k := range snap.APIKeys {
		t.addKey(k)
	}
	for _, src := range snap.Sources {
		t.sources[src.ID] = &src
		t.sourcesByBucket[src.BucketID] = append(t.sourcesByBucket[src.BucketID], src.ID)
		t.sourceByName[src.BucketID+"\x00"+src.Name] = src.ID
	}
	for _, a := range snap.Alerts {
		t.addAlert(a)
	}
	for _, e := range snap.Events {
		t.events[e.AlertID] = append(t.events[e.AlertID], &e)
	}
	for _, w := range snap.Webhooks {
		t.addWebhook(w)
	}
	for _, d := range snap.Deliveries {
		t.deliveries[d.WebhookID] = append(t.deliveries[d.WebhookID], &d)
	}
	if snap.DeletedSources != nil {
		t.deletedSources = snap.DeletedSources
	}
	if snap.Usage != nil {
		t.usage = snap.Usage
	}
	if snap.KeyLastUsed != nil {
		t.keyLastUsed = snap.KeyLastUsed
	}
	if snap.Placement != nil {
		t.placement = snap.Placement
	}
	if snap.Pending != nil {
		t.pending = snap.Pending
	}
	if snap.Leaving != nil {
		t.leaving = snap.Leaving
	}
	return t, nil
}

// swap replaces the whole state with t.
func (s *State) swap(t *tables) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = t
	s.keys.reset()
}
