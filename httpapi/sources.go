package httpapi

import (
	"regexp"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/store"
)

var (
	sourceTypes = []string{"sensor", "api", "webhook", "manual", "application", "service"}
	fieldTypes  = []string{"number", "string", "boolean"}
	// Field names appear unquoted in alert conditions ("temperature exceeds
	// 30"), so they are single words.
	fieldNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$`)
)

// Schema limits.
const (
	maxSchemaFields = 100
	maxUnitLen      = 50
)

// sourceView is a data source as the API shows it.
type sourceView struct {
	ID           string                 `json:"_id"`
	BucketID     string                 `json:"bucketId"`
	Name         string                 `json:"name"`
	Type         string                 `json:"type"`
	Description  string                 `json:"description"`
	Schema       map[string]store.Field `json:"schema"`
	Downsampling bool                   `json:"downsampling"`
	Status       string                 `json:"status"`
	CreatedAt    time.Time              `json:"createdAt"`
	UpdatedAt    time.Time              `json:"updatedAt"`
	Tags         map[string]string      `json:"tags,omitempty"`
}

func viewSource(d store.DataSource) sourceView {
	return sourceView{ID: d.ID, BucketID: d.BucketID, Name: d.Name, Type: d.Type, Description: d.Description,
		Schema: d.Schema, Downsampling: d.Downsampling, Status: d.Status, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Tags: d.Tags}
}

func (s *Server) listSources(c *call) error {
	b, err := s.bucketAccess(c, c.param("bucketId"), false)
	if err != nil {
		return err
	}
	return listPage(c, func(offset, limit int) ([]store.DataSource, int) { return s.cfg.Meta.Sources(b.ID, offset, limit) }, viewSource)
}

func (s *Server) createSource(c *call) error {
	b, err := s.bucketAccess(c, c.param("bucketId"), true)
	if err != nil {
		return err
	}
	now := s.now()
	src := store.DataSource{
		ID: objectid.New(now), BucketID: b.ID, OrganizationID: b.OrganizationID,
		Type: "sensor", Downsampling: true, Status: "active", CreatedAt: now, UpdatedAt: now,
	}
	if aerr := withBody(c.ctx.PostBody(), func(r *body) {
		src.Name, _ = r.text("name", true, 1, maxNameLen)
		if t, ok := r.enum("type", false, sourceTypes...); ok {
			src.Type = t
		}
		src.Description, _ = r.text("description", false, 0, maxDescriptionLen)
		if d, ok := r.boolean("downsampling", false); ok {
			src.Downsampling = d
		}
		src.Schema = readSchema(r)
	}); aerr != nil {
		return aerr
	}
	if b.Status == store.BucketArchived {
		return &apiError{Status: fasthttp.StatusConflict, Type: typeConflict, Message: "Bucket is archived"}
	}
	_, limits := s.cfg.Limiter.Plan(b.OrganizationID)
	if _, err := s.apply(store.CreateSource{Source: src, Limits: limits}); err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusCreated, viewSource(src))
	return nil
}

// readSchema reads {"<field>": {"type", "unit"?, "description"?}}, non-empty.
func readSchema(r *body) map[string]store.Field {
	v := r.lookup("schema", true)
	if v == nil {
		return nil
	}
	obj, err := v.Object()
	if err != nil {
		r.fail([]any{"schema"}, "Expected object, received %s", typeName(v))
		return nil
	}
	if obj.Len() == 0 {
		r.fail([]any{"schema"}, "Schema must define at least one field")
		return nil
	}
	if obj.Len() > maxSchemaFields {
		r.fail([]any{"schema"}, "Schema must define at most %d fields", maxSchemaFields)
		return nil
	}
	schema := make(map[string]store.Field, obj.Len())
	obj.Visit(func(k []byte, fv *fastjson.Value) {
		name := string(k)
		path := []any{"schema", name}
		if !fieldNameRE.MatchString(name) {
			r.fail(path, "Field name must start with a letter or underscore and contain only letters, digits, '_', '.', '-' (at most 64 characters)")
			return
		}
		if _, dup := schema[name]; dup {
			r.fail(path, "Duplicate field name")
			return
		}
		fo, err := fv.Object()
		if err != nil {
			r.fail(path, "Expected object, received %s", typeName(fv))
			return
		}
		sub := &body{obj: fo}
		var f store.Field
		f.Type, _ = sub.enum("type", true, fieldTypes...)
		f.Unit, _ = sub.text("unit", false, 0, maxUnitLen)
		f.Description, _ = sub.text("description", false, 0, maxDescriptionLen)
		for _, d := range sub.details {
			r.details = append(r.details, Detail{Path: append(append([]any{"body"}, path...), d.Path[1:]...), Message: d.Message})
		}
		schema[name] = f
	})
	return schema
}
