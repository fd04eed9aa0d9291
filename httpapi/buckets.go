package httpapi

import (
	"context"
	"fmt"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/store"
)

// Bucket field rules.
const (
	maxNameLen           = 100
	maxDescriptionLen    = 1000
	defaultRetentionDays = 30
	maxRetentionDays     = 3650
)

var bucketStatuses = []string{store.BucketActive, store.BucketArchived}

func (s *Server) listBuckets(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	return listPage(c, func(offset, limit int) ([]store.Bucket, int) {
		return s.cfg.Meta.Buckets(c.principal.OrgID, offset, limit)
	}, asIs[store.Bucket])
}

func (s *Server) createBucket(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	now := s.now()
	plan, limits := s.cfg.Limiter.Plan(c.principal.OrgID)
	b := store.Bucket{
		ID: objectid.New(now), OrganizationID: c.principal.OrgID,
		RetentionDays: capRetention(defaultRetentionDays, limits), Status: store.BucketActive,
		CreatedAt: now, UpdatedAt: now,
	}
	if aerr := withBody(c.ctx.PostBody(), func(r *body) {
		b.Name, _ = r.text("name", true, 1, maxNameLen)
		b.Description, _ = r.text("description", false, 0, maxDescriptionLen)
		if n, ok := r.integer("retentionDays", false, 1, maxRetentionDays); ok {
			b.RetentionDays = n
		}
		if st, ok := r.enum("status", false, bucketStatuses...); ok {
			b.Status = st
		}
	}); aerr != nil {
		return aerr
	}
	if err := checkRetention(b.RetentionDays, plan, limits); err != nil {
		return err
	}
	if _, err := s.apply(store.CreateBucket{Bucket: b, Limits: limits}); err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusCreated, b)
	return nil
}

type bucketWithStats struct {
	store.Bucket
	Stats store.BucketStats `json:"stats"`
}

func (s *Server) getBucket(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	b, err := s.bucketAccess(c, c.param("id"), false)
	if err != nil {
		return err
	}
	sources, keys := s.cfg.Meta.BucketCounts(b.ID)
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	count, err := s.cfg.Points.BucketPointCount(ctx, b.ID)
	if err != nil {
		return pointsError(err)
	}
	writeData(c.ctx, fasthttp.StatusOK, bucketWithStats{Bucket: b, Stats: store.BucketStats{
		DataSourceCount: sources, APIKeyCount: keys, DataPointCount: count,
	}})
	return nil
}

func (s *Server) updateBucket(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	b, err := s.bucketAccess(c, c.param("id"), true)
	if err != nil {
		return err
	}
	cmd := store.UpdateBucket{OrgID: b.OrganizationID, ID: b.ID, At: s.now()}
	if aerr := withBody(c.ctx.PostBody(), func(r *body) {
		if !r.has("name") && !r.has("description") && !r.has("retentionDays") && !r.has("status") {
			r.fail(nil, "At least one of name, description, retentionDays or status is required")
			return
		}
		if v, ok := r.text("name", false, 1, maxNameLen); ok {
			cmd.Name = &v
		}
		if v, ok := r.text("description", false, 0, maxDescriptionLen); ok {
			cmd.Description = &v
		}
		if v, ok := r.integer("retentionDays", false, 1, maxRetentionDays); ok {
			cmd.RetentionDays = &v
		}
		if v, ok := r.enum("status", false, bucketStatuses...); ok {
			cmd.Status = &v
		}
	}); aerr != nil {
		return aerr
	}
	if cmd.RetentionDays != nil {
		plan, limits := s.cfg.Limiter.Plan(c.principal.OrgID)
		if err := checkRetention(*cmd.RetentionDays, plan, limits); err != nil {
			return err
		}
	}
	updated, err := s.apply(cmd)
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, updated)
	return nil
}

type deletedBucketView struct {
	DeletedBucket struct {
		ID   string `json:"_id"`
		Name string `json:"name"`
	} `json:"deletedBucket"`
	DeletedResources struct {
		DataSources int   `json:"dataSources"`
		DataPoints  int64 `json:"dataPoints"`
		APIKeys     int   `json:"apiKeys"`
		AlertRules  int   `json:"alertRules"`
	} `json:"deletedResources"`
}

func (s *Server) deleteBucket(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	b, err := s.bucketAccess(c, c.param("id"), true)
	if err != nil {
		return err
	}
	d, err := applyFor[store.DeletedBucket](s, store.DeleteBucket{OrgID: b.OrganizationID, ID: b.ID})
	if err != nil {
		return err
	}
	var v deletedBucketView
	v.DeletedBucket.ID, v.DeletedBucket.Name = d.Bucket.ID, d.Bucket.Name
	v.DeletedResources.DataSources = d.DataSources
	v.DeletedResources.DataPoints = d.DataPoints
	v.DeletedResources.APIKeys = d.APIKeys
	v.DeletedResources.AlertRules = d.AlertRules
	writeData(c.ctx, fasthttp.StatusOK, v)
	return nil
}

// capRetention lowers the default retention to what the plan allows.
func capRetention(days int, limits store.PlanLimits) int {
	if limits.MaxRetentionDays > 0 {
		return min(days, limits.MaxRetentionDays)
	}
	return days
}

// checkRetention refuses a retention longer than the plan allows.
func checkRetention(days int, plan string, limits store.PlanLimits) error {
	if limits.MaxRetentionDays > 0 && days > limits.MaxRetentionDays {
		return forbidden(fmt.Sprintf("Plan limit reached: the %s plan allows a retention of at most %d days", plan, limits.MaxRetentionDays))
	}
	return nil
}
