package metadata

import (
	"context"
	"errors"

	"github.com/dakkio/dakkio/store"
)

// Synced serves metadata reads from this node's copy, but before it says
// that a key, bucket, source, rule or organization does not exist, a
// follower catches up with the leader's commit index and looks again. So
// a client that created something through one node can use it at once
// through any other, while hits (the common case) stay local and cheap.
type Synced struct {
	*store.State
	s *Service
}

// Synced returns the reads of the metadata (httpapi.Metadata).
func (s *Service) Synced() Synced { return Synced{State: s.cfg.State, s: s} }

// catchUp waits until this node has applied everything the leader had
// committed when asked. It returns false when there is nothing to catch up
// with (a single node), and an error wrapping replication.ErrUnavailable when
// it could not: then "not found" cannot be told from "not here yet".
func (m Synced) catchUp() (bool, error) {
	if !m.s.cfg.Cluster.Clustered() {
		return false, nil
	}
	if err := m.s.ReadBarrier(context.Background()); err != nil {
		m.s.log.Warn("cannot catch up with the leader to look for something this node lacks", "err", err)
		return false, err
	}
	return true, nil
}

// lookUp runs get, and once more after catching up when it finds nothing.
func lookUp[T any](m Synced, get func() (T, error)) (T, error) {
	v, err := get()
	if !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	caught, cerr := m.catchUp()
	if cerr != nil {
		return v, cerr
	}
	if caught {
		return get()
	}
	return v, err
}

// Authenticate answers an unknown key with false (401) also when it could
// not catch up: a node cut off from the leader refuses every key after its
// lease anyway.
func (m Synced) Authenticate(keyHash string) (store.Principal, bool) {
	if m.s.cfg.ChaosBug == "keep-revoked-keys" {
		return m.s.chaosKeys(keyHash, m.State.Authenticate)
	}
	p, ok := m.State.Authenticate(keyHash)
	if !ok {
		if caught, _ := m.catchUp(); caught {
			p, ok = m.State.Authenticate(keyHash)
		}
	}
	return p, ok
}

// CheckOperatorToken catches up before it refuses a token, so a token
// rotated through another node works here at once.
func (m Synced) CheckOperatorToken(tokenHash string) bool {
	if m.State.CheckOperatorToken(tokenHash) {
		return true
	}
	caught, _ := m.catchUp()
	return caught && m.State.CheckOperatorToken(tokenHash)
}

func (m Synced) Org(id string) (store.Org, error) {
	return lookUp(m, func() (store.Org, error) { return m.State.Org(id) })
}

func (m Synced) Bucket(orgID, id string) (store.Bucket, error) {
	return lookUp(m, func() (store.Bucket, error) { return m.State.Bucket(orgID, id) })
}

func (m Synced) Source(bucketID, id string) (store.DataSource, error) {
	return lookUp(m, func() (store.DataSource, error) { return m.State.Source(bucketID, id) })
}

// SharedSourceByName is SourceByName with the schema shared, read-only
// (the protocol writes' lookup).
func (m Synced) SharedSourceByName(bucketID, name string) (store.DataSource, error) {
	return lookUp(m, func() (store.DataSource, error) { return m.State.SharedSourceByName(bucketID, name) })
}

// SharedSource is Source with the schema shared, read-only (ingest's lookup).
func (m Synced) SharedSource(bucketID, id string) (store.DataSource, error) {
	return lookUp(m, func() (store.DataSource, error) { return m.State.SharedSource(bucketID, id) })
}

func (m Synced) SourceByName(bucketID, name string) (store.DataSource, error) {
	return lookUp(m, func() (store.DataSource, error) { return m.State.SourceByName(bucketID, name) })
}

func (m Synced) BucketByName(orgID, name string) (store.Bucket, error) {
	return lookUp(m, func() (store.Bucket, error) { return m.State.BucketByName(orgID, name) })
}

func (m Synced) Alert(orgID, id string) (store.AlertRule, error) {
	return lookUp(m, func() (store.AlertRule, error) { return m.State.Alert(orgID, id) })
}

func (m Synced) Webhook(orgID, id string) (store.Webhook, error) {
	return lookUp(m, func() (store.Webhook, error) { return m.State.Webhook(orgID, id) })
}

func (m Synced) WebhookDelivery(webhookID, id string) (store.WebhookDelivery, error) {
	return lookUp(m, func() (store.WebhookDelivery, error) { return m.State.WebhookDelivery(webhookID, id) })
}

// chaosKeys is the keep-revoked-keys bug: a key seen once is accepted for
// ever, whatever the state says since.
func (s *Service) chaosKeys(keyHash string, lookup func(string) (store.Principal, bool)) (store.Principal, bool) {
	s.chaosMu.Lock()
	defer s.chaosMu.Unlock()
	if p, ok := s.chaosSeen[keyHash]; ok {
		return p, true
	}
	p, ok := lookup(keyHash)
	if ok {
		if s.chaosSeen == nil {
			s.chaosSeen = map[string]store.Principal{}
		}
		s.chaosSeen[keyHash] = p
	}
	return p, ok
}
