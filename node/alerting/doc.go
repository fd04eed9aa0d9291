// Package alerting evaluates a bucket's alert rules and delivers their
// webhooks.
//
// Three kinds of rule, as docs/api.md describes them:
//
//   - threshold ("temperature exceeds 30"): OnWrite checks the points of each
//     write in time order; the first point that meets the condition triggers,
//     so a write triggers a rule at most once.
//   - duration ("... for 5 minutes"): OnWrite takes the newest point t of the
//     write that meets the condition and checks, in the points store, that
//     every point of the source in [t-N, t] meets it and that the last point
//     at or before t-N exists and meets it too (the run began no later than
//     t-N). What a check proved is remembered per rule (the run's start and
//     how far it was checked), so a long run is not read again on every
//     write; a write that lands inside the checked span forgets it.
//   - no data ("no data received for 10 minutes"): a ticker (CheckNoData)
//     compares the clock with the last arrival of a point of the source, as
//     seen by OnWrite. Before any arrival it uses the later of the engine's
//     start and the source's newest point, so a restart does not fire every
//     rule at once; and never earlier than the rule's creation. After a
//     trigger the window starts again: a silent source fires once per N
//     minutes (or per cooldown, if longer), not on every tick.
//
// Points without the rule's field, or whose field is not a number, neither
// meet nor break a condition.
//
// Whether a trigger happens is decided by the Raft log (store.TriggerAlert):
// the FSM refuses it while the rule is paused, gone or cooling down, so every
// replica agrees. The engine skips rules its local state already shows as
// cooling down, which only saves log entries.
//
// A trigger records the event with its webhook body fixed, and a pending
// delivery. DeliverDue posts due deliveries and records every attempt
// through Raft (store.RecordDelivery), so a pending or retrying delivery
// survives a restart or a change of evaluator: delivery is at least once.
// The events of one rule are delivered in order: a rule's next event waits
// until the one before it is delivered or has failed for good. Rules are
// delivered concurrently.
//
// Webhook subscriptions (store.Webhook, the /api/webhooks resource) are
// delivered by the same loop and the same attempt: their deliveries are
// made by the FSM (store.WebhookDelivery, with the body fixed), recorded
// through store.RecordWebhookDelivery, and go in order per webhook, beside
// the rules' chains; a test send (webhook.test) goes on its own.
//
// With Config.Egress, every address a delivery dials, redirects included,
// passes the egress policy (internal/egress) once resolved; a refused one
// ends the delivery "blocked", without retries, since the policy would
// refuse it again.
package alerting
