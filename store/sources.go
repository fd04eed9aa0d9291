package store

import (
	"maps"
	"slices"
	"time"
)

// Data source statuses.
const (
	SourceActive   = "active"
	SourceInactive = "inactive"
)

// UpdateSource changes a data source; nil fields stay. Schema lists fields
// to add or to change: a field keeps its type unless the proposer checked
// that the source has no points (TypesMayChange), since stored values
// were checked against the old type.
type UpdateSource struct {
	OrgID          string           `json:"orgId"`
	BucketID       string           `json:"bucketId"`
	ID             string           `json:"id"`
	Name           *string          `json:"name,omitempty"`
	Description    *string          `json:"description,omitempty"`
	Type           *string          `json:"type,omitempty"`
	Downsampling   *bool            `json:"downsampling,omitempty"`
	Status         *string          `json:"status,omitempty"`
	Schema         map[string]Field `json:"schema,omitempty"`
	TypesMayChange bool             `json:"typesMayChange,omitempty"`
	At             time.Time        `json:"at"`
}

// DeleteSource removes a data source with its alert rules; its points go
// on every node in the same log order (the FSM's hook).
type DeleteSource struct {
	OrgID    string `json:"orgId"`
	BucketID string `json:"bucketId"`
	ID       string `json:"id"`
}

// DeletedSource reports what a DeleteSource removed.
type DeletedSource struct {
	Source     DataSource `json:"source"`
	DataPoints int64      `json:"dataPoints"`
	AlertRules int        `json:"alertRules"`
}

// ApplyUpdateSource applies an UpdateSource command and returns the result.
func (s *State) ApplyUpdateSource(c UpdateSource) (DataSource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, ok := s.data.sources[c.ID]
	if !ok || src.BucketID != c.BucketID || src.OrganizationID != c.OrgID {
		return DataSource{}, errorf(ErrNotFound, "Data source not found")
	}
	for name, f := range c.Schema {
		if have, ok := src.Schema[name]; ok && have.Type != f.Type && !c.TypesMayChange {
			return DataSource{}, errorf(ErrConflict, "Field '%s' is a %s and the data source has points: its type cannot change", name, have.Type)
		}
	}
	if len(c.Schema) > 0 {
		added := 0
		for name := range c.Schema {
			if _, ok := src.Schema[name]; !ok {
				added++
			}
		}
		if len(src.Schema)+added > maxSchemaFields {
			return DataSource{}, errorf(ErrInvalid, "Schema must define at most %d fields", maxSchemaFields)
		}
	}
	if c.Name != nil && *c.Name != src.Name {
		newKey := src.BucketID + "\x00" + *c.Name
		if _, taken := s.data.sourceByName[newKey]; taken {
			return DataSource{}, errorf(ErrConflict, "A data source named %q already exists in this bucket", *c.Name)
		}
		delete(s.data.sourceByName, src.BucketID+"\x00"+src.Name)
		s.data.sourceByName[newKey] = src.ID
		src.Name = *c.Name
	}
	if c.Description != nil {
		src.Description = *c.Description
	}
	if c.Type != nil {
		src.Type = *c.Type
	}
	if c.Downsampling != nil {
		src.Downsampling = *c.Downsampling
	}
	if c.Status != nil {
		src.Status = *c.Status
	}
	if len(c.Schema) > 0 {
		schema := maps.Clone(src.Schema)
		if schema == nil {
			schema = map[string]Field{}
		}
		maps.Copy(schema, c.Schema)
		src.Schema = schema
	}
	src.UpdatedAt = c.At
	return src.clone(), nil
}

// maxSchemaFields bounds a source's schema, as the API does on create.
const maxSchemaFields = 100

// ApplyDeleteSource applies a DeleteSource command: the source goes with
// its alert rules and their events, and is remembered as deleted so that a
// late copy of its points (a hint, a repair) is not stored again.
func (s *State) ApplyDeleteSource(c DeleteSource) (DeletedSource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, ok := s.data.sources[c.ID]
	if !ok || src.BucketID != c.BucketID || src.OrganizationID != c.OrgID {
		return DeletedSource{}, errorf(ErrNotFound, "Data source not found")
	}
	out := DeletedSource{Source: src.clone()}
	for _, id := range slices.Clone(s.data.alertsBySource[src.ID]) {
		s.data.removeAlert(s.data.alerts[id])
		out.AlertRules++
	}
	delete(s.data.alertsBySource, src.ID)
	delete(s.data.sourceByName, src.BucketID+"\x00"+src.Name)
	s.data.sourcesByBucket[src.BucketID] = remove(s.data.sourcesByBucket[src.BucketID], src.ID)
	delete(s.data.sources, src.ID)
	s.data.deletedSources[src.ID] = src.BucketID
	return out, nil
}

// SourceDeleted reports whether a data source was deleted: its points
// must not be stored again.
func (s *State) SourceDeleted(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.data.deletedSources[id]
	return ok
}
