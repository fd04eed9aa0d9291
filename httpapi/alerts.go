package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/internal/condition"
	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/store"
)

// The alert rule endpoints follow docs/api.md; where it is silent:
//   - POST /api/alerts checks, in order: JSON, bucketId format, permission
//     (admin, or the bucket's write key), dataSourceId format, every other
//     field (all problems reported at once), archived bucket (409), the
//     source in the bucket (404 "Data source not found"), then the
//     condition's field against the source's schema;
//   - "condition" and "naturalLanguageQuery" are one field under two names;
//     when both are given, "condition" wins and the other is ignored. A
//     condition that does not parse is a detail at the name it came under,
//     with the parser's explanation as its message;
//   - a threshold condition's field must be in the source's schema with type
//     number (conditions compare numbers only): 400 "Field 'x' is not in the
//     data source's schema" or "Field 'x' is not numeric"; a no-data
//     condition names no field;
//   - the condition is stored and shown as written (surrounding white space
//     trimmed); parsedCondition always has field and value (null for no
//     data) and durationMinutes only when the condition has a duration;
//   - webhookUrl is an absolute http or https URL with a host, at most 2048
//     characters. A literal address the webhook egress policy refuses
//     (loopback, link-local, unspecified, the node's own ports, or as the
//     operator set it) is a 400 detail at webhookUrl, on POST and PATCH;
//     a name is checked when the webhook is dialled. Private addresses are
//     allowed by default, since webhooks often run next to the server;
//   - read keys see a rule's webhookUrl, which often holds a secret in its
//     path or query, reduced to scheme://host[:port]; admin and write keys
//     (which may set it) see it whole;
//   - cooldownMinutes is an integer 0..1440 (0: every matching write fires);
//   - secret is 1..256 characters, used as given (not trimmed). It is never
//     shown: rules carry "hasSecret" instead. PATCH with "secret": "" removes it;
//   - PATCH takes any of name, condition (or naturalLanguageQuery),
//     webhookUrl, cooldownMinutes, status ("active" | "paused") and secret,
//     at least one; a null counts as absent. A new condition is checked
//     against the source's schema again. PATCH and DELETE work on rules of
//     archived buckets (pausing or removing a rule is not a write of data);
//   - a rule is reached by id through the caller's organization: another
//     organization's rule is 404 "Alert rule not found", exactly like an
//     unknown one. Then the bucket rules apply: a key of another bucket of the
//     same organization gets 403, a read key on PATCH or DELETE gets 403;
//   - GET /api/alerts/:id/events lists a rule's triggers newest first (the
//     server keeps the last 1000 per rule). payload is the webhook body as
//     delivered; in delivery, lastStatus (HTTP status of the last attempt)
//     and lastError are null until there is one, and attempts counts the
//     recorded attempts. state "blocked" means the egress policy refused the
//     address (not retried). Only admin keys see lastStatus and the raw
//     lastError: to a bucket key, which may have written the webhookUrl,
//     they would tell what answers on an internal address (connection
//     refused, 401, EOF). Bucket keys get lastStatus null and lastError
//     "delivery failed" or "blocked by egress policy".

// Alert rule field limits.
const (
	maxWebhookURLLen   = 2048
	maxSecretLen       = 256
	defaultCooldown    = 5
	maxCooldownMinutes = 1440
)

var alertStatuses = []string{store.AlertActive, store.AlertPaused}

func (s *Server) alertRoutes() {
	r := &s.routes
	r.add("POST", "/api/alerts", apiKey, s.createAlert)
	r.add("GET", "/api/buckets/:bucketId/alerts", apiKey, s.listAlerts)
	r.add("GET", "/api/alerts/:id", apiKey, s.getAlert)
	r.add("PATCH", "/api/alerts/:id", apiKey, s.updateAlert)
	r.add("DELETE", "/api/alerts/:id", apiKey, s.deleteAlert)
	r.add("GET", "/api/alerts/:id/events", apiKey, s.listAlertEvents)
}

// alertView is a rule as the API shows it: never its secret.
type alertView struct {
	ID              string        `json:"_id"`
	BucketID        string        `json:"bucketId"`
	DataSourceID    string        `json:"dataSourceId"`
	Name            string        `json:"name"`
	Condition       string        `json:"condition"`
	ParsedCondition conditionView `json:"parsedCondition"`
	WebhookURL      string        `json:"webhookUrl"`
	Status          string        `json:"status"`
	CooldownMinutes int           `json:"cooldownMinutes"`
	HasSecret       bool          `json:"hasSecret"`
	LastTriggeredAt *time.Time    `json:"lastTriggeredAt"`
	CreatedAt       time.Time     `json:"createdAt"`
	UpdatedAt       time.Time     `json:"updatedAt"`
}

type conditionView struct {
	Field           *string  `json:"field"`
	Operator        string   `json:"operator"`
	Value           *float64 `json:"value"`
	DurationMinutes int      `json:"durationMinutes,omitempty"`
}

// alertViewFor returns how the caller sees rules: read keys see the
// webhook URL reduced to scheme and host. Write keys may set the URL, so
// they see it whole.
func alertViewFor(c *call) func(store.AlertRule) alertView {
	if t := c.principal.Type; t == store.KeyAdmin || t == store.KeyWrite {
		return viewAlert
	}
	return func(a store.AlertRule) alertView {
		v := viewAlert(a)
		v.WebhookURL = urlOrigin(v.WebhookURL)
		return v
	}
}

// urlOrigin keeps a URL's scheme and host (with port): no user, path,
// query or fragment.
func urlOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func viewAlert(a store.AlertRule) alertView {
	cv := conditionView{Operator: a.Parsed.Operator, DurationMinutes: a.Parsed.DurationMinutes}
	if a.Parsed.Operator != condition.OpNoData {
		field, value := a.Parsed.Field, a.Parsed.Value
		cv.Field, cv.Value = &field, &value
	}
	return alertView{
		ID: a.ID, BucketID: a.BucketID, DataSourceID: a.DataSourceID, Name: a.Name,
		Condition: a.Condition, ParsedCondition: cv, WebhookURL: a.WebhookURL, Status: a.Status,
		CooldownMinutes: a.CooldownMinutes, HasSecret: a.Secret != "", LastTriggeredAt: utcPtr(a.LastTriggeredAt),
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(),
	}
}

// eventView is one trigger of a rule and its delivery.
type eventView struct {
	ID          string          `json:"_id"`
	AlertID     string          `json:"alertId"`
	Value       *float64        `json:"value"`
	TriggeredAt time.Time       `json:"triggeredAt"`
	Payload     json.RawMessage `json:"payload"`
	Delivery    deliveryView    `json:"delivery"`
}

type deliveryView struct {
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastAttemptAt *time.Time `json:"lastAttemptAt"`
	LastStatus    *int       `json:"lastStatus"`
	LastError     *string    `json:"lastError"`
	NextAttemptAt *time.Time `json:"nextAttemptAt"`
	DeliveredAt   *time.Time `json:"deliveredAt"`
}

func viewEvent(e store.AlertEvent) eventView {
	d := e.Delivery
	v := eventView{
		ID: e.ID, AlertID: e.AlertID, Value: e.Value, TriggeredAt: e.TriggeredAt.UTC(), Payload: e.Payload,
		Delivery: deliveryView{State: d.State, Attempts: d.Attempts, LastAttemptAt: utcPtr(d.LastAttemptAt),
			NextAttemptAt: utcPtr(d.NextAttemptAt), DeliveredAt: utcPtr(d.DeliveredAt)},
	}
	if !json.Valid(v.Payload) {
		v.Payload = json.RawMessage("null")
	}
	if d.LastStatus != 0 {
		st := d.LastStatus
		v.Delivery.LastStatus = &st
	}
	if d.LastError != "" {
		msg := d.LastError
		v.Delivery.LastError = &msg
	}
	return v
}

// Delivery errors bucket keys see instead of the raw ones.
const (
	deliveryErrorGeneric = "delivery failed"
	deliveryErrorBlocked = "blocked by egress policy"
)

// eventViewFor returns how the caller sees events: bucket keys get no
// status and a generic error.
func eventViewFor(c *call) func(store.AlertEvent) eventView {
	if c.principal.Type == store.KeyAdmin {
		return viewEvent
	}
	return func(e store.AlertEvent) eventView {
		v := viewEvent(e)
		v.Delivery.LastStatus = nil
		if v.Delivery.LastError != nil {
			msg := deliveryErrorGeneric
			if e.Delivery.State == store.DeliveryBlocked {
				msg = deliveryErrorBlocked
			}
			v.Delivery.LastError = &msg
		}
		return v
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Server) createAlert(c *call) error {
	p := parserPool.Get()
	defer parserPool.Put(p)
	bd, aerr := parseWith(p, c.ctx.PostBody())
	if aerr != nil {
		return aerr
	}
	bucketID, err := bodyID(bd.obj, []any{"body", "bucketId"}, "bucket")
	if err != nil {
		return err
	}
	b, err := s.bucketAccess(c, bucketID, true)
	if err != nil {
		return err
	}
	srcID, err := bodyID(bd.obj, []any{"body", "dataSourceId"}, "data source")
	if err != nil {
		return err
	}
	now := s.now()
	rule := store.AlertRule{
		ID: objectid.New(now), OrganizationID: b.OrganizationID, BucketID: b.ID, DataSourceID: srcID,
		Status: store.AlertActive, CooldownMinutes: defaultCooldown, CreatedAt: now, UpdatedAt: now,
	}
	rule.Name, _ = bd.text("name", true, 1, maxNameLen)
	cond, condName, _ := readCondition(bd, true)
	rule.Condition, rule.Parsed = cond.text, cond.parsed
	rule.WebhookURL, _ = s.readWebhookURL(bd, true)
	if n, ok := bd.integer("cooldownMinutes", false, 0, maxCooldownMinutes); ok {
		rule.CooldownMinutes = n
	}
	rule.Secret, _ = readSecret(bd, 1)
	if aerr := bd.err(); aerr != nil {
		return aerr
	}
	if b.Status == store.BucketArchived {
		return errArchived
	}
	src, err := s.cfg.Meta.Source(b.ID, srcID)
	if err != nil {
		return err
	}
	if err := checkConditionField(rule.Parsed, src, condName); err != nil {
		return err
	}
	if _, err := s.apply(store.CreateAlert{Rule: rule}); err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusCreated, alertViewFor(c)(rule))
	return nil
}

func (s *Server) listAlerts(c *call) error {
	b, err := s.bucketAccess(c, c.param("bucketId"), false)
	if err != nil {
		return err
	}
	return listPage(c, func(offset, limit int) ([]store.AlertRule, int) { return s.cfg.Meta.Alerts(b.ID, offset, limit) }, alertViewFor(c))
}

// alertAccess loads the rule the path names, enforcing the permission
// matrix through the rule's bucket.
func (s *Server) alertAccess(c *call, write bool) (store.AlertRule, error) {
	id := c.param("id")
	if err := checkID(id, "alert"); err != nil {
		return store.AlertRule{}, err
	}
	rule, err := s.cfg.Meta.Alert(c.principal.OrgID, id)
	if err != nil {
		return store.AlertRule{}, err
	}
	if _, err := s.bucketAccess(c, rule.BucketID, write); err != nil {
		return store.AlertRule{}, err
	}
	return rule, nil
}

func (s *Server) getAlert(c *call) error {
	rule, err := s.alertAccess(c, false)
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, alertViewFor(c)(rule))
	return nil
}

var alertUpdateFields = []string{"name", "condition", "naturalLanguageQuery", "webhookUrl", "cooldownMinutes", "status", "secret"}

func (s *Server) updateAlert(c *call) error {
	rule, err := s.alertAccess(c, true)
	if err != nil {
		return err
	}
	cmd := store.UpdateAlert{OrgID: rule.OrganizationID, ID: rule.ID, At: s.now()}
	var condName string
	if aerr := withBody(c.ctx.PostBody(), func(r *body) {
		given := false
		for _, f := range alertUpdateFields {
			given = given || r.has(f)
		}
		if !given {
			r.fail(nil, "At least one of name, condition, webhookUrl, cooldownMinutes, status or secret is required")
			return
		}
		if v, ok := r.text("name", false, 1, maxNameLen); ok {
			cmd.Name = &v
		}
		if cond, name, ok := readCondition(r, false); ok {
			cmd.Condition, cmd.Parsed, condName = &cond.text, &cond.parsed, name
		}
		if v, ok := s.readWebhookURL(r, false); ok {
			cmd.WebhookURL = &v
		}
		if v, ok := r.integer("cooldownMinutes", false, 0, maxCooldownMinutes); ok {
			cmd.CooldownMinutes = &v
		}
		if v, ok := r.enum("status", false, alertStatuses...); ok {
			cmd.Status = &v
		}
		if v, ok := readSecret(r, 0); ok {
			cmd.Secret = &v
		}
	}); aerr != nil {
		return aerr
	}
	if cmd.Parsed != nil {
		src, err := s.cfg.Meta.Source(rule.BucketID, rule.DataSourceID)
		if err != nil {
			return err
		}
		if err := checkConditionField(*cmd.Parsed, src, condName); err != nil {
			return err
		}
	}
	updated, err := applyFor[store.AlertRule](s, cmd)
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, alertViewFor(c)(updated))
	return nil
}

func (s *Server) deleteAlert(c *call) error {
	rule, err := s.alertAccess(c, true)
	if err != nil {
		return err
	}
	a, err := applyFor[store.AlertRule](s, store.DeleteAlert{OrgID: rule.OrganizationID, ID: rule.ID})
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, map[string]any{"deletedAlert": map[string]string{"_id": a.ID, "name": a.Name}})
	return nil
}

func (s *Server) listAlertEvents(c *call) error {
	rule, err := s.alertAccess(c, false)
	if err != nil {
		return err
	}
	p, aerr := parsePage(c.ctx.QueryArgs().Peek("limit"), c.ctx.QueryArgs().Peek("offset"))
	if aerr != nil {
		return aerr
	}
	events, total := s.cfg.Meta.Events(rule.ID, p.offset, p.limit)
	view := eventViewFor(c)
	views := make([]eventView, len(events))
	for i, e := range events {
		views[i] = view(e)
	}
	writeListRaw(c.ctx, views, p, total)
	return nil
}

// writeListRaw is writeList without HTML escaping, so that the webhook
// payloads of events read exactly as they were delivered ("operator":">").
func writeListRaw[T any](ctx *fasthttp.RequestCtx, items []T, p page, total int) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(envelope{
		Data:       items,
		Metadata:   emptyObject,
		Pagination: &Pagination{Limit: p.limit, Offset: p.offset, Total: total, HasMore: p.offset+len(items) < total},
	}); err != nil {
		writeList(ctx, items, p, total) // cannot happen; writeList answers 500 alike
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// parsedText is a condition as written and as parsed.
type parsedText struct {
	text   string
	parsed condition.Condition
}

// readCondition reads "condition", or its alias "naturalLanguageQuery" when
// "condition" is absent, and parses it. It returns the name it was read from,
// for error details.
func readCondition(b *body, required bool) (parsedText, string, bool) {
	name := "condition"
	if !b.has(name) && b.has("naturalLanguageQuery") {
		name = "naturalLanguageQuery"
	}
	v := b.lookup(name, false)
	if v == nil {
		if required {
			b.fail([]any{"condition"}, "Required")
		}
		return parsedText{}, name, false
	}
	raw, err := v.StringBytes()
	if err != nil {
		b.fail([]any{name}, "Expected string, received %s", typeName(v))
		return parsedText{}, name, false
	}
	text := strings.TrimSpace(string(raw))
	parsed, err := condition.Parse(text)
	if err != nil {
		b.fail([]any{name}, "%s", err.Error())
		return parsedText{}, name, false
	}
	return parsedText{text: text, parsed: parsed}, name, true
}

// readWebhookURL reads an absolute http(s) URL with a host whose address,
// if literal, the webhook egress policy allows.
func (s *Server) readWebhookURL(b *body, required bool) (string, bool) {
	return s.readURL(b, "webhookUrl", required)
}

// readURL reads the field name as readWebhookURL reads webhookUrl.
func (s *Server) readURL(b *body, name string, required bool) (string, bool) {
	raw, ok := b.text(name, required, 1, maxWebhookURLLen)
	if !ok {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		b.fail([]any{name}, "%s must be an http(s) URL", name)
		return "", false
	}
	if p := s.cfg.WebhookPolicy; p != nil {
		if err := p.CheckURL(u); err != nil {
			b.fail([]any{name}, "%s is %s", name, err.Error())
			return "", false
		}
	}
	return raw, true
}

// readSecret reads the signing secret as given: white space is part of it.
func readSecret(b *body, minLen int) (string, bool) {
	v := b.lookup("secret", false)
	if v == nil {
		return "", false
	}
	raw, err := v.StringBytes()
	if err != nil {
		b.fail([]any{"secret"}, "Expected string, received %s", typeName(v))
		return "", false
	}
	s := string(raw)
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		b.fail([]any{"secret"}, "String must be valid UTF-8")
	case n < minLen:
		b.fail([]any{"secret"}, "String must contain at least %d character(s)", minLen)
	case n > maxSecretLen:
		b.fail([]any{"secret"}, "String must contain at most %d character(s)", maxSecretLen)
	default:
		return s, true
	}
	return "", false
}

// checkConditionField refuses a threshold condition on a field the source
// does not have, or whose values are not numbers.
func checkConditionField(cond condition.Condition, src store.DataSource, name string) error {
	if cond.Operator == condition.OpNoData {
		return nil
	}
	f, ok := src.Schema[cond.Field]
	var msg string
	switch {
	case !ok:
		msg = fmt.Sprintf("Field '%s' is not in the data source's schema", cond.Field)
	case f.Type != "number":
		msg = fmt.Sprintf("Field '%s' is not numeric", cond.Field)
	default:
		return nil
	}
	return validationError(msg, Detail{Path: []any{"body", name}, Message: msg})
}
