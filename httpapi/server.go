package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/internal/egress"
	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/promapi"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Metadata is the read side of the metadata state.
type Metadata interface {
	Authenticate(keyHash string) (store.Principal, bool)
	CheckOperatorToken(tokenHash string) bool
	Org(id string) (store.Org, error)
	Orgs(offset, limit int) ([]store.Org, int)
	Bucket(orgID, id string) (store.Bucket, error)
	Buckets(orgID string, offset, limit int) ([]store.Bucket, int)
	BucketCounts(bucketID string) (sources, keys int)
	Keys(bucketID string, offset, limit int) ([]store.APIKey, int)
	Sources(bucketID string, offset, limit int) ([]store.DataSource, int)
	// Source returns a data source of the bucket, or store.ErrNotFound.
	Source(bucketID, id string) (store.DataSource, error)
	// SourceByName returns the bucket's source of that name, or store.ErrNotFound.
	SourceByName(bucketID, name string) (store.DataSource, error)
	// BucketByName returns the organization's bucket of that name, or store.ErrNotFound.
	BucketByName(orgID, name string) (store.Bucket, error)
	// OrgSourceCount returns how many data sources the organization has.
	OrgSourceCount(orgID string) int
	// Alert returns a rule of the organization, or store.ErrNotFound.
	Alert(orgID, id string) (store.AlertRule, error)
	Alerts(bucketID string, offset, limit int) ([]store.AlertRule, int)
	// Events returns a page of a rule's events, newest first, and their total.
	Events(alertID string, offset, limit int) ([]store.AlertEvent, int)
	// AdminKeyCount returns how many admin keys the organization has.
	AdminKeyCount(orgID string) int
	// AdminKeys returns a page of the organization's admin keys and their total.
	AdminKeys(orgID string, offset, limit int) ([]store.APIKey, int)
	// OrgAlertStats counts the organization's rules and their triggers since
	// a time, and returns the newest trigger (nil if none).
	OrgAlertStats(orgID string, since time.Time) (rules, triggeredSince int, last *time.Time)
	// BucketAlertStats counts the bucket's active rules and, per rule in
	// creation order, the triggers since a time.
	BucketAlertStats(bucketID string, since time.Time) (active int, byRule []store.RuleTriggers)
	// Webhook returns a webhook of the organization, or store.ErrNotFound.
	Webhook(orgID, id string) (store.Webhook, error)
	// Webhooks returns a page of the organization's webhooks (one bucket's
	// when bucketID is set) and their total.
	Webhooks(orgID, bucketID string, offset, limit int) ([]store.Webhook, int)
	// WebhookDeliveries returns a page of a webhook's deliveries, newest
	// first, and their total.
	WebhookDeliveries(webhookID string, offset, limit int) ([]store.WebhookDelivery, int)
	// WebhookDelivery returns one delivery of a webhook, or store.ErrNotFound.
	WebhookDelivery(webhookID, id string) (store.WebhookDelivery, error)
}

// Applier proposes a metadata command and returns what applying it produced.
// It returns replication.ErrUnavailable (wrapped) when the cluster cannot commit now.
type Applier interface {
	Apply(ctx context.Context, cmd any) (any, error)
}

// Points stores data points and answers queries over them (points.DB).
type Points interface {
	// BucketPointCount returns how many points the bucket holds.
	BucketPointCount(ctx context.Context, bucketID string) (int64, error)
	// Write stores pts, each (source, timestamp) at most once, all or
	// nothing, acknowledged at level (ConsistencyDefault: the node's).
	Write(ctx context.Context, bucketID string, level replication.Consistency, pts []points.Point) error
	// Raw returns a page of points in time order and how many match. The
	// reads that take a note honour its RefusePartial and record in it
	// whether the answer may be partial; nil accepts partial answers.
	Raw(ctx context.Context, q points.RawQuery, note *replication.ReadNote) (points.RawResult, error)
	// Aggregate returns one row per source per window.
	Aggregate(ctx context.Context, q points.AggQuery, note *replication.ReadNote) ([]points.Row, error)
	// Count returns how many points match r.
	Count(ctx context.Context, r points.Range, note *replication.ReadNote) (int64, error)
	// FinestWindow returns the finest window giving at most maxRows rows over r.
	FinestWindow(ctx context.Context, r points.Range, maxRows int, note *replication.ReadNote) (points.Window, error)
	// PeriodStats returns each source's count, hourly counts and numeric
	// averages, minimums and maximums over r, from the hour rollups.
	PeriodStats(ctx context.Context, r points.Range, note *replication.ReadNote) ([]points.SourceStats, error)
	// LastPointTime returns the time of the source's newest point; false if none.
	LastPointTime(ctx context.Context, bucketID, sourceID string) (int64, bool, error)
	// BucketSize estimates the bytes the bucket's points take on disk.
	BucketSize(ctx context.Context, bucketID string) (int64, error)
	// ChangeMark returns a token that changes whenever a point of the
	// bucket in [start, end) does (the PromQL result cache's validator).
	ChangeMark(bucketID string, start, end int64) string
	// Announce tells the store a client's write to the bucket is on its
	// way, so that a group commit waits a moment for it; withdraw once its
	// points are handed on or the request fails (points.DB.Announce).
	Announce(bucketID string) (withdraw func())
}

// Node tells about the serving node itself.
type Node interface {
	// Ready returns nil when this node can serve, or why it cannot.
	Ready() error
	// KeyLease returns nil while the node may trust its copy of the API
	// keys; otherwise API-key calls get 503.
	KeyLease() error
	// Serving reports whether the node has started and is not stopping;
	// until then, calls other than /health and /ready get 503.
	Serving() bool
	// ClusterStatus returns the document served at /api/operator/cluster.
	ClusterStatus() any
	// RemoveNode takes a node out of the Raft configuration: a
	// store.ErrNotFound kind when it is not in it, a
	// *replication.NotLeaderError when only another node can do it now.
	RemoveNode(ctx context.Context, id string) error
	// Rebalance moves buckets onto the replicas the current servers call
	// for and returns the moves it started.
	Rebalance(ctx context.Context) (any, error)
	// ReadBarrier returns once this node has applied every metadata change
	// committed before the call, so that a read served next is
	// linearizable; an error wraps replication.ErrUnavailable.
	ReadBarrier(ctx context.Context) error
}

// KeyUsage records when keys were last used. It is node-local and cheap: a
// request must never wait on consensus to note that it happened.
type KeyUsage interface {
	Touch(keyID string, at time.Time)
	LastUsed(keyID string) (time.Time, bool)
}

// Limiter counts calls against each organization's monthly plan and tells
// what the plan allows.
type Limiter interface {
	// Allow counts one call, or refuses it once the month's quota is spent.
	Allow(orgID string) (store.Quota, bool)
	// Plan returns the organization's plan name and limits.
	Plan(orgID string) (string, store.PlanLimits)
	// Used returns the organization's calls counted this month.
	Used(orgID string) int64
}

// Internal serves node-to-node calls (internal/peerrpc.Server): httpapi
// checks the node's signature, then hands the call over whole.
type Internal interface {
	// Paths lists the internal paths served.
	Paths() []string
	// Serve answers a verified call to path.
	Serve(ctx context.Context, path string, body []byte) peerrpc.Answer
}

// Config configures a Server. Meta, Applier, Points, Node, Usage and Limiter are required.
type Config struct {
	Meta    Metadata
	Applier Applier
	Points  Points
	Node    Node
	Usage   KeyUsage
	Limiter Limiter
	// Internal and NodeKey serve /internal/...: requests signed with
	// NodeKey (internal/nodeauth). Without a key the internal routes answer
	// 404, as on a single node.
	Internal Internal
	NodeKey  []byte
	// NodeCertRequired, with TLS, admits an internal call only over a
	// connection whose client certificate was verified (against the
	// cluster's CA, by the listener's TLS config): the signature alone
	// does not do.
	NodeCertRequired bool
	// MaxBodyBytes caps request bodies; larger ones get 413. Default 10 MiB.
	MaxBodyBytes int
	// WebhookPolicy, if set, refuses alert rules whose webhookUrl is a
	// literal address it blocks (names are checked when dialled).
	WebhookPolicy *egress.Policy
	// Limits bound connections, their timeouts and the bodies in flight.
	Limits Limits
	// ApplyTimeout bounds a metadata write. Default 10s.
	ApplyTimeout time.Duration
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// SaveOperatorToken, if set, keeps a new operator token where the
	// operator can find it, before the rotation is applied; an error
	// refuses the rotation.
	SaveOperatorToken func(token string) error
	// Metrics, if set, is the registry GET /metrics serves; the server adds
	// its request, point and rate-limit counters to it.
	Metrics *prometheus.Registry
}

// Server is the public HTTP API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	routes  router
	http    *fasthttp.Server
	metrics *apiMetrics // nil without Config.Metrics
	// nodeAuth checks the signatures of node calls and refuses replays.
	nodeAuth *nodeauth.Verifier
	bodies   bodyBudget
	prom     *promapi.API // Prometheus' query API
	// lingering holds a slot per connection answered by lingerUnread.
	lingering chan struct{}
}

// New returns a Server ready to Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Meta == nil || cfg.Applier == nil || cfg.Points == nil || cfg.Node == nil || cfg.Usage == nil || cfg.Limiter == nil {
		return nil, errors.New("httpapi: Meta, Applier, Points, Node, Usage and Limiter are required")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	cfg.Limits.setDefaults()
	if err := cfg.Limits.Validate(cfg.MaxBodyBytes); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	if cfg.ApplyTimeout == 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "httpapi"),
		nodeAuth:  nodeauth.NewVerifier(nodeauth.VerifierConfig{Key: cfg.NodeKey}),
		lingering: make(chan struct{}, maxLingering)}
	s.bodies.limit = cfg.Limits.MaxBodyBytesInFlight
	handler := s.dispatch
	if cfg.Metrics != nil {
		m, err := newAPIMetrics(cfg.Metrics, &s.bodies)
		if err != nil {
			return nil, fmt.Errorf("httpapi: metrics: %w", err)
		}
		s.metrics, handler = m, s.observe
	}
	prom, err := promapi.New(promapi.Config{Catalog: cfg.Meta, Points: promPoints{cfg.Points}, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	s.prom = prom
	s.registerRoutes()
	s.http = &fasthttp.Server{
		Handler:            handler,
		ErrorHandler:       s.transportError,
		MaxRequestBodySize: cfg.MaxBodyBytes,
		// Bodies are read by dispatch once the credentials are checked.
		StreamRequestBody: true,
		// ReadTimeout runs from a request's first byte to the end of its
		// headers; HeaderReceived then gives the body its own time.
		ReadTimeout:                  cfg.Limits.ReadHeaderTimeout,
		HeaderReceived:               s.headerReceived,
		WriteTimeout:                 60 * time.Second,
		IdleTimeout:                  cfg.Limits.IdleTimeout,
		MaxConnsPerIP:                cfg.Limits.fasthttpMaxConnsPerIP(),
		Name:                         "dakkio",
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		Logger:                       fasthttpLogger{s.log},
	}
	return s, nil
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

func (s *Server) registerRoutes() {
	r := &s.routes
	r.add("GET", "/health", public, s.health)
	r.add("GET", "/ready", public, s.ready)
	if s.metrics != nil {
		r.add("GET", "/metrics", public, s.serveMetrics)
	}
	r.add("GET", "/openapi.json", public, s.openAPI)
	r.add("GET", "/playground", public, s.playground)
	s.consoleRoutes()

	r.add("GET", "/api/buckets", apiKey, s.listBuckets)
	r.add("POST", "/api/buckets", apiKey, s.createBucket)
	r.add("GET", "/api/buckets/:id", apiKey, s.getBucket)
	r.add("PATCH", "/api/buckets/:id", apiKey, s.updateBucket)
	r.add("DELETE", "/api/buckets/:id", apiKey, s.deleteBucket)

	r.add("GET", "/api/buckets/:bucketId/keys", apiKey, s.listKeys)
	r.add("POST", "/api/buckets/:bucketId/keys", apiKey, s.createKey)
	r.add("DELETE", "/api/buckets/:bucketId/keys/:keyId", apiKey, s.deleteKey)

	r.add("GET", "/api/buckets/:bucketId/sources", apiKey, s.listSources)
	r.add("POST", "/api/buckets/:bucketId/sources", apiKey, s.createSource)
	r.add("GET", "/api/buckets/:bucketId/sources/:sourceId", apiKey, s.getSource)
	r.add("PATCH", "/api/buckets/:bucketId/sources/:sourceId", apiKey, s.updateSource)
	r.add("DELETE", "/api/buckets/:bucketId/sources/:sourceId", apiKey, s.deleteSource)

	r.add("POST", "/api/data", apiKey, s.ingest)
	r.add("POST", "/api/data/batch", apiKey, s.ingestBatch)
	r.add("POST", "/api/data/query", apiKey, s.query)
	s.alertRoutes()
	s.webhookRoutes()
	s.analyticsRoutes()
	s.lineProtocolRoutes()
	s.remoteWriteRoutes()
	s.promRoutes()

	r.add("POST", "/api/operator/orgs", operator, s.createOrg)
	r.add("GET", "/api/operator/orgs", operator, s.listOrgs)
	r.add("PATCH", "/api/operator/orgs/:id", operator, s.updateOrg)
	r.add("POST", "/api/operator/orgs/:id/keys", operator, s.createAdminKey)
	r.add("GET", "/api/operator/orgs/:id/keys", operator, s.listAdminKeys)
	r.add("DELETE", "/api/operator/orgs/:id/keys/:keyId", operator, s.revokeAdminKey)
	r.add("POST", "/api/operator/token", operator, s.rotateOperatorToken)
	r.add("GET", "/api/operator/cluster", operator, s.clusterStatus)
	r.add("DELETE", "/api/operator/cluster/nodes/:id", operator, s.removeNode)
	r.add("POST", "/api/operator/cluster/rebalance", operator, s.rebalance)
	r.add("GET", "/api/operator/backup", operator, s.backup)
	r.add("POST", "/api/operator/restore/metadata", operator, s.restoreMetadata)
	r.add("POST", "/api/operator/restore/points", operator, s.restorePoints)
	if s.cfg.Internal != nil {
		for _, path := range s.cfg.Internal.Paths() {
			r.add("POST", path, node, s.internalCall(path))
		}
	}
}

// Routes lists every endpoint the server answers.
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.routes.routes))
	for i, r := range s.routes.routes {
		out[i] = Route{Method: r.Method, Pattern: r.Pattern}
	}
	return out
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(ln) }

// Shutdown stops accepting connections and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.ShutdownWithContext(ctx) }

// call is one request being served. It must not outlive the handler.
type call struct {
	ctx       *fasthttp.RequestCtx
	params    params
	principal store.Principal
	// bodySum is the body hash a node call's signature claims; the body
	// is checked against it once read.
	bodySum nodeauth.BodySum
}

func (c *call) param(name string) string { return c.params.get(name) }

func (s *Server) dispatch(ctx *fasthttp.RequestCtx) {
	bodyRead := false
	defer func() { // runs last, once the answer is final
		if !bodyRead {
			s.lingerUnread(ctx)
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panicked", "panic", p, "path", string(ctx.Path()))
			writeError(ctx, &apiError{Status: 500, Type: typeInternal, Message: "An internal error occurred"})
		}
	}()
	route, ps, allowed, failOther := s.routes.match(string(ctx.Method()), string(ctx.Path()))
	if route != nil && s.metrics != nil {
		ctx.SetUserValue(routeKey, route.Pattern)
	}
	if s.bodyTooLarge(ctx) {
		ctx.SetConnectionClose() // the body is never read
		if route != nil && route.fail != nil {
			route.fail(ctx, errTooLarge)
		} else {
			writeError(ctx, errTooLarge)
		}
		return
	}
	if route == nil {
		if len(allowed) > 0 {
			ctx.Response.Header.Set("Allow", strings.Join(allowed, ", "))
			if failOther == nil {
				failOther = writeError
			}
			failOther(ctx, &apiError{Status: fasthttp.StatusMethodNotAllowed, Type: typeMethod, Message: "Method not allowed for this endpoint"})
			return
		}
		writeError(ctx, notFound("Route not found"))
		return
	}
	c := &call{ctx: ctx, params: ps}
	fail := writeError
	if route.fail != nil {
		fail = route.fail
	}
	// Node-to-node calls are served from the start: a leader still starting
	// up must already take the commands its followers forward.
	if route.access != public && route.access != node && !s.cfg.Node.Serving() {
		fail(ctx, &apiError{Status: fasthttp.StatusServiceUnavailable, Type: typeUnavailable, Message: "Node is starting or stopping; retry later"})
		return
	}
	if route.leased() {
		if err := s.cfg.Node.KeyLease(); err != nil {
			what := "API keys"
			if route.access == operator {
				what = "the operator token"
			}
			fail(ctx, &apiError{Status: fasthttp.StatusServiceUnavailable, Type: typeUnavailable,
				Message: "This node cannot confirm " + what + " now (" + err.Error() + "); retry or use another node"})
			return
		}
	}
	if aerr := s.checkCredentials(c, route); aerr != nil {
		fail(ctx, aerr)
		return
	}
	// Public routes take no body: theirs is left unread. A call is
	// counted once its body has been read whole, so that a body found too
	// large while reading (chunked) is not counted, like one declared too
	// large; an organization whose quota is already spent is refused
	// before its body is read.
	if route.access != public {
		release, aerr := s.reserveBody(ctx)
		defer release()
		charged := false
		if aerr == nil && route.access == apiKey && s.quotaSpent(c) {
			aerr, charged = s.chargeQuota(c), true
		}
		if aerr == nil {
			var done func()
			done, aerr = s.readBody(ctx)
			bodyRead = aerr == nil
			defer done()
		}
		if aerr == nil && route.access == apiKey && !charged {
			aerr = s.chargeQuota(c)
		}
		if aerr != nil {
			fail(ctx, aerr)
			return
		}
	}
	if route.access == node {
		// checkCredentials verified the signature over the body hash it
		// claims; the body read must be that one.
		if err := c.bodySum.Check(ctx.PostBody()); err != nil {
			fail(ctx, errBadNodeSignature)
			return
		}
	}
	if route.linearizable() {
		bctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
		err := s.cfg.Node.ReadBarrier(bctx)
		cancel()
		if err != nil {
			fail(ctx, toAPIError(err, s.log))
			return
		}
	}
	if err := route.handle(c); err != nil {
		fail(ctx, toAPIError(err, s.log))
	}
}

// checkNodeSignature admits a node call whose signature covers its method,
// path, query and claimed body hash, and whose nonce has not been used
// before. It needs only the headers; it records the claimed hash in c, for
// the body to be checked against once read.
func (s *Server) checkNodeSignature(c *call) *apiError {
	ctx := c.ctx
	uri := ctx.URI()
	// The target as sent: the raw path, not the decoded ctx.Path(), and
	// the whole query.
	target := nodeauth.Target(string(uri.PathOriginal()), string(uri.QueryString()))
	sig := string(ctx.Request.Header.Peek(nodeauth.HeaderName))
	sum, err := s.nodeAuth.VerifyHead(sig, string(ctx.Method()), target)
	switch {
	case err == nil:
		c.bodySum = sum
		return nil
	case errors.Is(err, nodeauth.ErrReplayed):
		return &apiError{Status: fasthttp.StatusUnauthorized, Type: typeUnauthorized, Message: "Node signature already used; sign every request afresh"}
	case errors.Is(err, nodeauth.ErrTooManyNonces):
		ctx.Response.Header.Set("Retry-After", "1")
		return &apiError{Status: fasthttp.StatusServiceUnavailable, Type: typeUnavailable, Message: "Too many node calls in the signature window; retry shortly"}
	default:
		return errBadNodeSignature
	}
}

// checkCredentials checks, from the headers alone, that the caller may use
// a route of access a. It runs before the body is read, so that no one
// without credentials can make the node buffer anything.
func (s *Server) checkCredentials(c *call, route *Route) *apiError {
	ctx := c.ctx
	switch route.access {
	case node:
		if s.cfg.NodeKey == nil || s.cfg.Internal == nil {
			return notFound("Route not found")
		}
		if s.cfg.NodeCertRequired {
			if st := ctx.TLSConnectionState(); st == nil || len(st.VerifiedChains) == 0 {
				return &apiError{Status: fasthttp.StatusUnauthorized, Type: typeUnauthorized, Message: "Node calls need a client certificate of the cluster"}
			}
		}
		if aerr := s.checkNodeSignature(c); aerr != nil {
			return aerr
		}
	case apiKey:
		key := ctx.Request.Header.Peek("X-API-Key")
		if route.key != nil { // the ingest protocols' own ways of sending it
			key = route.key(ctx)
		}
		if !secret.WellFormed(string(key)) {
			return errUnauthorized
		}
		p, ok := s.cfg.Meta.Authenticate(secret.Hash(string(key)))
		if !ok {
			return errUnauthorized
		}
		c.principal = p
	case operator:
		tok := ctx.Request.Header.Peek("X-Operator-Token")
		if len(tok) == 0 || !s.cfg.Meta.CheckOperatorToken(secret.Hash(string(tok))) {
			return errBadOperator
		}
	}
	return nil
}

// quotaSpent reports whether the organization has no call left this month
// as this node counts them (chargeQuota then refuses it).
func (s *Server) quotaSpent(c *call) bool {
	_, limits := s.cfg.Limiter.Plan(c.principal.OrgID)
	return limits.MaxAPICalls >= 0 && s.cfg.Limiter.Used(c.principal.OrgID) >= limits.MaxAPICalls
}

// chargeQuota counts an API-key call against its organization's quota, or
// refuses it with 429 once the quota is spent.
func (s *Server) chargeQuota(c *call) *apiError {
	q, ok := s.cfg.Limiter.Allow(c.principal.OrgID)
	setQuotaHeaders(c.ctx, q)
	if !ok {
		s.countRateLimited()
		return rateLimited(c.ctx, q, s.now())
	}
	s.cfg.Usage.Touch(c.principal.KeyID, s.now())
	return nil
}

// headerReceived gives each request's body its own read deadline, once the
// headers came within theirs.
func (s *Server) headerReceived(*fasthttp.RequestHeader) fasthttp.RequestConfig {
	return fasthttp.RequestConfig{ReadTimeout: s.cfg.Limits.BodyReadTimeout}
}

// setQuotaHeaders puts the organization's quota on the response: every
// answer to an authenticated call carries them, -1 meaning unlimited.
func setQuotaHeaders(ctx *fasthttp.RequestCtx, q store.Quota) {
	h := &ctx.Response.Header
	h.Set("X-RateLimit-Limit", strconv.FormatInt(q.Limit, 10))
	h.Set("X-RateLimit-Remaining", strconv.FormatInt(q.Remaining, 10))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(q.Reset.Unix(), 10))
}

// rateLimited is the 429 of an organization whose quota is spent; it sets
// Retry-After to the seconds left until the quota resets.
func rateLimited(ctx *fasthttp.RequestCtx, q store.Quota, now time.Time) *apiError {
	wait, msg := q.Reset.Sub(now), "Rate limit exceeded. Resets at "+q.Reset.UTC().Format(time.RFC3339)
	if q.RetryAfter > 0 {
		wait, msg = q.RetryAfter, "Rate limit reached on this node until the cluster's counts arrive; retry shortly"
	}
	ctx.Response.Header.Set("Retry-After", strconv.FormatInt(max(int64(math.Ceil(wait.Seconds())), 1), 10))
	return &apiError{Status: fasthttp.StatusTooManyRequests, Type: typeTooMany, Message: msg}
}

// transportError answers requests fasthttp could not read: too large, or
// malformed at the HTTP level.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	if sentNothing(ctx, err) {
		// An HTTP client may open a connection it ends up not using (Go's
		// dials one while waiting for a busy one). Answering it would put
		// an unsolicited response on the client's idle connection, so it
		// is closed without a word, as fasthttp does for a kept-alive one.
		_ = ctx.Conn().Close()
		return
	}
	defer s.countTransportError(ctx)
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, errTooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		writeError(ctx, &apiError{Status: fasthttp.StatusBadRequest, Type: typeBadRequest, Message: "Request not received in time"})
	default:
		writeError(ctx, &apiError{Status: fasthttp.StatusBadRequest, Type: typeBadRequest, Message: "Malformed HTTP request"})
	}
}

// sentNothing tells whether err is the read timeout of a new connection on
// which the client sent no byte. fasthttp hands that timeout over as the
// bare network error; a timeout after part of a request arrived comes
// wrapped ("error when reading request headers: …").
func sentNothing(ctx *fasthttp.RequestCtx, err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout() && len(ctx.Request.Header.RawHeaders()) == 0
}

func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

func (s *Server) apply(cmd any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
	defer cancel()
	return s.cfg.Applier.Apply(ctx, cmd)
}

// applyFor is apply for a command whose value is an R: a value of another
// type is an error, not a panic in the handler.
func applyFor[R any](s *Server, cmd any) (R, error) {
	var zero R
	v, err := s.apply(cmd)
	if err != nil {
		return zero, err
	}
	r, ok := v.(R)
	if !ok {
		return zero, fmt.Errorf("applying %T gave a %T, want a %T", cmd, v, zero)
	}
	return r, nil
}

// internalCall answers a node-to-node call to path (node access) with
// what the internal server answers; a Raft index, when there is one, goes
// in peerrpc.IndexHeader.
func (s *Server) internalCall(path string) func(c *call) error {
	return func(c *call) error {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
		defer cancel()
		a := s.cfg.Internal.Serve(ctx, path, c.ctx.PostBody())
		if a.Index > 0 {
			c.ctx.Response.Header.Set(peerrpc.IndexHeader, strconv.FormatUint(a.Index, 10))
		}
		c.ctx.SetStatusCode(a.Status)
		c.ctx.SetContentType("application/json")
		c.ctx.SetBody(a.Body)
		return nil
	}
}

func (s *Server) health(c *call) error {
	writeData(c.ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) ready(c *call) error {
	if err := s.cfg.Node.Ready(); err != nil {
		return &apiError{Status: fasthttp.StatusServiceUnavailable, Type: typeUnavailable, Message: "Node is not ready: " + err.Error()}
	}
	writeData(c.ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
	return nil
}
