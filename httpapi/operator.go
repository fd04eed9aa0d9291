package httpapi

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
)

var plans = []string{store.PlanFree, store.PlanPro, store.PlanEnterprise}

func (s *Server) createOrg(c *call) error {
	now := s.now()
	org := store.Org{ID: objectid.New(now), Plan: store.PlanFree, CreatedAt: now, UpdatedAt: now}
	if aerr := withBody(c.ctx.PostBody(), func(r *body) {
		org.Name, _ = r.text("name", true, 1, maxNameLen)
		if p, ok := r.enum("plan", false, plans...); ok {
			org.Plan = p
		}
	}); aerr != nil {
		return aerr
	}
	rec, view := newKey(store.KeyAdmin, "admin", org.ID, "", now)
	if _, err := s.apply(store.CreateOrg{Org: org, AdminKey: rec}); err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusCreated, map[string]any{"organization": org, "adminKey": view})
	return nil
}

func (s *Server) listOrgs(c *call) error {
	return listPage(c, s.cfg.Meta.Orgs, asIs[store.Org])
}

func (s *Server) updateOrg(c *call) error {
	id := c.param("id")
	if err := checkID(id, "organization"); err != nil {
		return err
	}
	cmd := store.UpdateOrg{ID: id, At: s.now()}
	if aerr := withBody(c.ctx.PostBody(), func(r *body) {
		if !r.has("name") && !r.has("plan") {
			r.fail(nil, "At least one of name or plan is required")
			return
		}
		if v, ok := r.text("name", false, 1, maxNameLen); ok {
			cmd.Name = &v
		}
		if v, ok := r.enum("plan", false, plans...); ok {
			cmd.Plan = &v
		}
	}); aerr != nil {
		return aerr
	}
	org, err := s.apply(cmd)
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, org)
	return nil
}

func (s *Server) createAdminKey(c *call) error {
	id := c.param("id")
	if err := checkID(id, "organization"); err != nil {
		return err
	}
	name := "admin"
	if len(c.ctx.PostBody()) > 0 {
		if aerr := withBody(c.ctx.PostBody(), func(r *body) {
			if v, ok := r.text("name", false, 1, maxNameLen); ok {
				name = v
			}
		}); aerr != nil {
			return aerr
		}
	}
	if _, err := s.cfg.Meta.Org(id); err != nil {
		return err
	}
	rec, view := newKey(store.KeyAdmin, name, id, "", s.now())
	if _, err := s.apply(store.CreateKey{Key: rec}); err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusCreated, view)
	return nil
}

func (s *Server) clusterStatus(c *call) error {
	// Current when the leader can be reached; as this node knows it when
	// not (status must answer most when something is wrong).
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = s.cfg.Node.ReadBarrier(ctx)
	cancel()
	writeData(c.ctx, fasthttp.StatusOK, s.cfg.Node.ClusterStatus())
	return nil
}

// LeaderHeader names, on a 503 from a node that could not do an operator
// change itself, the leader's base URL to send the request to instead.
const LeaderHeader = "X-Dakkio-Leader"

// removeNode takes a node out of the Raft configuration. Only the leader can;
// any other node answers 503 and names it, so that the caller retries there.
func (s *Server) removeNode(c *call) error {
	id := c.param("id")
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
	defer cancel()
	if err := s.cfg.Node.RemoveNode(ctx, id); err != nil {
		var nl *replication.NotLeaderError
		if !errors.As(err, &nl) {
			return err
		}
		if nl.LeaderURL != "" {
			c.ctx.Response.Header.Set(LeaderHeader, nl.LeaderURL)
		}
		return &apiError{Status: fasthttp.StatusServiceUnavailable, Type: typeUnavailable,
			Message: "Cannot remove the node here: " + nl.Error()}
	}
	writeData(c.ctx, fasthttp.StatusOK, map[string]string{"removedNode": id})
	return nil
}

// rebalance answers POST /api/operator/cluster/rebalance.
func (s *Server) rebalance(c *call) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
	defer cancel()
	out, err := s.cfg.Node.Rebalance(ctx)
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, out)
	return nil
}
