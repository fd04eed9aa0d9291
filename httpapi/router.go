package httpapi

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// access says who may call a route.
type access int

const (
	public   access = iota // no credentials
	apiKey                 // any valid API key; the handler checks scope
	operator               // X-Operator-Token
	node                   // another node: a request signed with the cluster key
)

// Route is one endpoint the server answers.
type Route struct {
	Method  string
	Pattern string // segments starting with ':' are parameters
	access  access
	handle  func(*call) error
	parts   []string
	// key, if set, reads an apiKey route's key from where its protocol
	// sends it (default: X-API-Key); fail, if set, writes its errors in
	// that protocol's body (default: the API's envelope).
	key  func(*fasthttp.RequestCtx) []byte
	fail func(*fasthttp.RequestCtx, *apiError)
}

// router matches a method and path to a route. Patterns are few and short, so
// a linear scan over split segments beats a tree in clarity and costs little.
type router struct {
	routes []*Route
}

func (r *router) add(method, pattern string, a access, h func(*call) error) {
	r.routes = append(r.routes, &Route{Method: method, Pattern: pattern, access: a, handle: h, parts: split(pattern)})
}

// addForeign adds an apiKey route of another protocol: its key read by
// key, its errors written by fail.
func (r *router) addForeign(method, pattern string, h func(*call) error, key func(*fasthttp.RequestCtx) []byte, fail func(*fasthttp.RequestCtx, *apiError)) {
	r.add(method, pattern, apiKey, h)
	rt := r.routes[len(r.routes)-1]
	rt.key, rt.fail = key, fail
}

func split(path string) []string {
	return strings.Split(strings.Trim(path, "/"), "/")
}

// params holds up to four path parameters without allocating a map.
type params struct {
	names  [4]string
	values [4]string
	n      int
}

func (p *params) get(name string) string {
	for i := 0; i < p.n; i++ {
		if p.names[i] == name {
			return p.values[i]
		}
	}
	return ""
}

// match returns the route for method and path, HEAD matching GET routes.
// With no route, allowed lists the methods the path does answer (empty
// when the path is unknown), for a 405's Allow header.
func (r *router) match(method, path string) (rt *Route, ps params, allowed []string, failOther func(*fasthttp.RequestCtx, *apiError)) {
	if method == "HEAD" {
		method = "GET"
	}
	segs := split(path)
	for _, route := range r.routes {
		var p params
		if !matchParts(route.parts, segs, &p) {
			continue
		}
		if route.Method == method {
			return route, p, nil, nil
		}
		if failOther == nil {
			failOther = route.fail // a protocol's own error body for the 405
		}
		allowed = append(allowed, route.Method)
		if route.Method == "GET" {
			allowed = append(allowed, "HEAD")
		}
	}
	return nil, params{}, allowed, failOther
}

func matchParts(pattern, segs []string, p *params) bool {
	if len(pattern) != len(segs) {
		return false
	}
	for i, part := range pattern {
		if strings.HasPrefix(part, ":") {
			if segs[i] == "" || p.n == len(p.names) {
				return false
			}
			p.names[p.n], p.values[p.n] = part[1:], segs[i]
			p.n++
			continue
		}
		if part != segs[i] {
			return false
		}
	}
	return true
}

// linearizable reports whether the route reads metadata that must be
// current (every GET behind credentials), so that the node catches up with
// the leader first. Cluster status is exempt: it must answer when there is
// no leader, to tell so.
func (r *Route) linearizable() bool {
	return r.Method == "GET" && (r.access == apiKey || r.access == operator) && r.Pattern != clusterStatusPath
}

// clusterStatusPath is the one credentialed route that answers without a
// leader: it must tell what is wrong when most is.
const clusterStatusPath = "/api/operator/cluster"

// leased reports whether the route's credentials are checked only while
// the node holds its key lease (Node.KeyLease): API keys, and the operator
// token, so that a revoked key or a rotated token is refused by every node
// within the lease. Cluster status is exempt, as from linearizable reads;
// it shows topology only.
func (r *Route) leased() bool {
	return r.access == apiKey || r.access == operator && r.Pattern != clusterStatusPath
}
