package httpapi

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// The data source endpoints beyond create and list follow API.md; where it
// is silent:
//   - GET (any key of the bucket) adds "stats": dataPointCount, and the
//     timestamps of the oldest and newest points (null while there are
//     none), read from the bucket's replicas like a query, so they count
//     what a query would return (within retention);
//   - PATCH (admin or the bucket's write key) takes any of name,
//     description, type, downsampling, status and schema, at least one; a
//     null counts as absent. schema lists fields to add or change ({"rh":
//     {"type":"number","unit":"%"}}); fields it does not list stay, since
//     stored points hold them. Giving an existing field another type is 409
//     once the source has points, and allowed before. A name taken in the
//     bucket is 409. PATCH works on sources of archived buckets;
//   - an inactive source refuses new points with 409 on every ingest path
//     (JSON, batch, line protocol, remote write, MQTT); queries still read
//     its points;
//   - DELETE (admin only) removes the source, its alert rules (with their
//     events) and its points on every replica, and answers how many of
//     each went; points of the deleted source that arrive later (a hint, a
//     repair copy) are not stored again.

var sourceStatuses = []string{store.SourceActive, store.SourceInactive}

var sourceUpdateFields = []string{"name", "description", "type", "downsampling", "status", "schema"}

// sourceStats is what GET adds to a source.
type sourceStats struct {
	DataPointCount int64      `json:"dataPointCount"`
	FirstDataPoint *time.Time `json:"firstDataPoint"`
	LastDataPoint  *time.Time `json:"lastDataPoint"`
}

type sourceWithStats struct {
	sourceView
	Stats sourceStats `json:"stats"`
}

// sourceAccess loads the source the path names, through its bucket's
// permission matrix.
func (s *Server) sourceAccess(c *call, write bool) (store.Bucket, store.DataSource, error) {
	b, err := s.bucketAccess(c, c.param("bucketId"), write)
	if err != nil {
		return store.Bucket{}, store.DataSource{}, err
	}
	id := c.param("sourceId")
	if err := checkID(id, "data source"); err != nil {
		return store.Bucket{}, store.DataSource{}, err
	}
	src, err := s.cfg.Meta.Source(b.ID, id)
	return b, src, err
}

func (s *Server) getSource(c *call) error {
	_, src, err := s.sourceAccess(c, false)
	if err != nil {
		return err
	}
	st, err := s.sourceStats(src)
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, sourceWithStats{sourceView: viewSource(src), Stats: st})
	return nil
}

// sourceStats reads the source's oldest and newest points and their count
// from the bucket's replicas.
func (s *Server) sourceStats(src store.DataSource) (sourceStats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
	defer cancel()
	rg := points.Range{BucketID: src.BucketID, SourceIDs: []string{src.ID}, Start: math.MinInt64, End: math.MaxInt64}
	first, err := s.cfg.Points.Raw(ctx, points.RawQuery{Range: rg, Limit: 1}, nil)
	if err != nil {
		return sourceStats{}, pointsError(err)
	}
	st := sourceStats{DataPointCount: first.Total}
	if len(first.Points) == 0 {
		return st, nil
	}
	last, err := s.cfg.Points.Raw(ctx, points.RawQuery{Range: rg, Limit: 1, Desc: true}, nil)
	if err != nil {
		return sourceStats{}, pointsError(err)
	}
	t := time.Unix(0, first.Points[0].TS).UTC()
	st.FirstDataPoint, st.LastDataPoint = &t, &t
	if len(last.Points) > 0 {
		l := time.Unix(0, last.Points[0].TS).UTC()
		st.LastDataPoint = &l
	}
	return st, nil
}

func (s *Server) updateSource(c *call) error {
	_, src, err := s.sourceAccess(c, true)
	if err != nil {
		return err
	}
	cmd := store.UpdateSource{OrgID: src.OrganizationID, BucketID: src.BucketID, ID: src.ID, At: s.now()}
	if aerr := withBody(c.ctx.PostBody(), func(r *body) {
		if !slices.ContainsFunc(sourceUpdateFields, r.has) {
			r.fail(nil, "At least one of name, description, type, downsampling, status or schema is required")
			return
		}
		if v, ok := r.text("name", false, 1, maxNameLen); ok {
			cmd.Name = &v
		}
		if v, ok := r.text("description", false, 0, maxDescriptionLen); ok {
			cmd.Description = &v
		}
		if v, ok := r.enum("type", false, sourceTypes...); ok {
			cmd.Type = &v
		}
		if v, ok := r.boolean("downsampling", false); ok {
			cmd.Downsampling = &v
		}
		if v, ok := r.enum("status", false, sourceStatuses...); ok {
			cmd.Status = &v
		}
		if r.has("schema") {
			cmd.Schema = readSchema(r)
		}
	}); aerr != nil {
		return aerr
	}
	if len(src.Schema)+newFields(src.Schema, cmd.Schema) > maxSchemaFields {
		return validationError("Invalid request body", Detail{Path: []any{"body", "schema"}, Message: "Schema must define at most 100 fields"})
	}
	retyped := false
	for name, f := range cmd.Schema {
		if have, ok := src.Schema[name]; ok && have.Type != f.Type {
			retyped = true
		}
	}
	if retyped {
		// Stored values were checked against the old type: a new one is
		// allowed only while there are none.
		st, err := s.sourceStats(src)
		if err != nil {
			return err
		}
		cmd.TypesMayChange = st.DataPointCount == 0
	}
	res, err := s.apply(cmd)
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, viewSource(res.(store.DataSource)))
	return nil
}

// newFields counts the fields of patch that schema lacks.
func newFields(schema, patch map[string]store.Field) int {
	n := 0
	for name := range patch {
		if _, ok := schema[name]; !ok {
			n++
		}
	}
	return n
}

func (s *Server) deleteSource(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	_, src, err := s.sourceAccess(c, true)
	if err != nil {
		return err
	}
	res, err := s.apply(store.DeleteSource{OrgID: src.OrganizationID, BucketID: src.BucketID, ID: src.ID})
	if err != nil {
		return err
	}
	d := res.(store.DeletedSource)
	writeData(c.ctx, fasthttp.StatusOK, map[string]any{
		"deletedDataSource": map[string]string{"_id": d.Source.ID, "name": d.Source.Name},
		"deletedResources":  map[string]any{"dataPoints": d.DataPoints, "alertRules": d.AlertRules},
	})
	return nil
}

// errSourceInactive refuses points of an inactive data source.
func errSourceInactive(name string) *apiError {
	return &apiError{Status: fasthttp.StatusConflict, Type: typeConflict, Message: "Data source '" + name + "' is inactive"}
}

// checkSourcesActive refuses a write with a point of an inactive source:
// every ingest path stores through writePoints, which asks this first.
func (s *Server) checkSourcesActive(bucketID string, pts []points.Point) error {
	last := ""
	var seen map[string]bool // built once a second source shows up
	lookup := s.readSource()
	for i := range pts {
		id := pts[i].SourceID
		if id == last {
			continue
		}
		if last != "" {
			if seen == nil {
				seen = map[string]bool{last: true}
			}
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		last = id
		src, err := lookup(bucketID, id)
		if err != nil {
			continue // the write reports it as it always did
		}
		if src.Status == store.SourceInactive {
			return errSourceInactive(src.Name)
		}
	}
	return nil
}
