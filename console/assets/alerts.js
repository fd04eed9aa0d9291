// alerts.js: alert rules (create with a live preview of the condition,
// pause/resume, edit, delete) and a rule's events as a timeline.
"use strict";

(function () {
  const h = D.h;

  // conditionInput is a condition field whose parsed form is previewed as
  // the user types, checked against the chosen source's schema.
  function conditionInput(value, schemaOf, id) {
    const input = h("input", { name: "condition", id, required: true, maxlength: 500, value: value || "", spellcheck: "false",
      placeholder: "temperature exceeds 30 for 5 minutes", "aria-describedby": id + "-preview" });
    const preview = h("div", { class: "preview", id: id + "-preview", "aria-live": "polite" });
    const update = () => {
      if (!input.value.trim()) { preview.className = "preview"; preview.textContent = "Type a condition: \u201cfield exceeds 30\u201d, \u201cfield is below 5 for 10 minutes\u201d, \u201cno data received for 1 hour\u201d."; return; }
      const r = D.parseCondition(input.value, schemaOf());
      preview.className = "preview " + (r.ok ? "ok" : "bad");
      preview.dataset.ok = r.ok;
      preview.textContent = r.ok ? "Parsed: " + r.text + "  {operator: " + r.condition.operator + (r.condition.field ? ", field: " + r.condition.field + ", value: " + r.condition.value : "") +
        (r.condition.durationMinutes ? ", durationMinutes: " + r.condition.durationMinutes : "") + "}" : "Not understood: " + r.reason;
    };
    input.addEventListener("input", update);
    update();
    return { input, preview, update };
  }

  async function editRule(rule, schema) {
    const cond = conditionInput(rule.condition, () => schema, "edit-condition");
    const err = h("p", { class: "error", role: "alert" });
    const body = h("div", null,
      D.field("Name", h("input", { name: "name", id: "edit-name", value: rule.name, required: true, maxlength: 100 })),
      D.field("Condition", cond.input), cond.preview,
      D.field("Webhook URL", h("input", { name: "webhookUrl", id: "edit-webhook", type: "url", value: rule.webhookUrl, required: true })),
      D.field("Cooldown (minutes)", h("input", { name: "cooldownMinutes", type: "number", min: 0, max: 1440, value: rule.cooldownMinutes })), err);
    await D.ask("Edit rule " + rule.name, body, "Save", {
      onOK: async () => {
        const v = {};
        for (const el of body.querySelectorAll("[name]")) v[el.name] = el.value;
        const patch = {};
        if (v.name !== rule.name) patch.name = v.name;
        if (v.condition !== rule.condition) patch.condition = v.condition;
        if (v.webhookUrl !== rule.webhookUrl) patch.webhookUrl = v.webhookUrl;
        if (Number(v.cooldownMinutes) !== rule.cooldownMinutes) patch.cooldownMinutes = Number(v.cooldownMinutes);
        if (Object.keys(patch).length === 0) return true;
        try {
          await D.api("PATCH", "/api/alerts/" + rule._id, patch);
          D.toast("Saved rule " + v.name);
          return true;
        } catch (e) { err.textContent = e.detail; return false; }
      },
    });
  }

  D.routes.push({
    name: "alerts", path: /^\/alerts$/, title: "Alerts", nav: "#/alerts", need: "read", order: 3,
    async render(main, _p, query, view) {
      main.appendChild(h("h1", null, "Alert rules"));
      const b = await D.bucketChoice(main, query, "/alerts");
      if (!b || !view.alive) return;
      const sources = await D.all("/api/buckets/" + b._id + "/sources");
      const srcBy = new Map(sources.map((s) => [s._id, s]));
      const listEl = h("div", { id: "alerts-list" });
      const canWrite = D.can("write");
      async function list() {
        const rules = await D.all("/api/buckets/" + b._id + "/alerts");
        const act = (fn) => async () => { try { await fn(); } catch (e) { D.toast(e.detail || e.message, true); } await list(); };
        D.replace(listEl, D.table([{ label: "Name" }, { label: "Source" }, { label: "Condition" }, { label: "Status" }, { label: "Cooldown", num: true }, { label: "Last triggered" }, { label: "", actions: true }],
          rules.map((r) => ({ attrs: { dataset: { alert: r._id, name: r.name, status: r.status } }, cells: [
            h("a", { href: "#/alerts/" + r._id }, r.name), (srcBy.get(r.dataSourceId) || {}).name || r.dataSourceId,
            h("span", null, r.condition, h("br"), h("span", { class: "muted mono" }, D.describeCondition(r.parsedCondition))),
            D.badge(r.status, r.status === "active" ? "ok" : "warn"), r.cooldownMinutes + " min", D.fmtTime(r.lastTriggeredAt), [
              h("a", { href: "#/alerts/" + r._id, class: "small" }, "Events"), " ",
              canWrite ? h("button", { type: "button", class: "small ghost", "data-act": "toggle", onclick: act(() =>
                D.api("PATCH", "/api/alerts/" + r._id, { status: r.status === "active" ? "paused" : "active" })) }, r.status === "active" ? "Pause" : "Resume") : null,
              canWrite ? h("button", { type: "button", class: "small ghost", "data-act": "edit", onclick: act(() => editRule(r, (srcBy.get(r.dataSourceId) || {}).schema)) }, "Edit") : null,
              canWrite ? h("button", { type: "button", class: "small danger", "data-act": "delete", onclick: act(async () => {
                if (await D.ask("Delete rule " + r.name + "?", h("p", null, "The rule and its event history are deleted."), "Delete", { danger: true })) {
                  await D.api("DELETE", "/api/alerts/" + r._id);
                  D.toast("Deleted rule " + r.name);
                }
              }) }, "Delete") : null]] })), { id: "alerts-table", label: "Alert rules", empty: "No alert rules in this bucket." }));
      }
      await list();
      if (!view.alive) return;
      main.appendChild(h("section", { class: "panel" }, h("h2", null, "Rules of " + b.name), listEl));
      if (!canWrite) return;
      if (sources.length === 0) {
        main.appendChild(h("p", null, "Create a data source in the bucket before an alert rule."));
        return;
      }
      const srcSel = D.select({ name: "dataSourceId", id: "alert-source" }, sources.map((s) => [s._id, s.name]), sources[0]._id);
      const cond = conditionInput("", () => (srcBy.get(srcSel.value) || {}).schema, "alert-condition");
      srcSel.addEventListener("change", cond.update);
      const fieldsHint = h("p", { class: "muted", id: "alert-fields" });
      const hint = () => { fieldsHint.textContent = "Numeric fields: " + Object.entries(srcBy.get(srcSel.value).schema).filter(([, d]) => d.type === "number").map(([f]) => f).join(", "); };
      srcSel.addEventListener("change", hint);
      hint();
      const form = h("form", { id: "alert-create" },
        h("div", { class: "row" },
          D.field("Data source", srcSel),
          D.field("Name", h("input", { name: "name", id: "alert-name", required: true, maxlength: 100 })),
          D.field("Cooldown (minutes)", h("input", { name: "cooldownMinutes", type: "number", min: 0, max: 1440, value: 5 }))),
        D.field("Condition", cond.input), cond.preview, fieldsHint,
        h("div", { class: "row" },
          D.field("Webhook URL", h("input", { name: "webhookUrl", id: "alert-webhook", type: "url", required: true, maxlength: 2048 })),
          D.field("Secret (optional)", h("input", { name: "secret", type: "password", autocomplete: "off" }))),
        h("div", { class: "row end" }, h("button", { type: "submit" }, "Create rule")));
      D.onSubmit(form, async (v) => {
        const body = { bucketId: b._id, dataSourceId: v.dataSourceId, name: v.name, condition: v.condition, webhookUrl: v.webhookUrl, cooldownMinutes: Number(v.cooldownMinutes) };
        if (v.secret) body.secret = v.secret;
        const r = (await D.api("POST", "/api/alerts", body)).data;
        D.toast("Created rule " + r.name + ": " + D.describeCondition(r.parsedCondition));
        form.reset();
        cond.update();
        await list();
      });
      main.appendChild(h("section", { class: "panel" }, h("h2", null, "New rule"), form));
    },
  });

  D.routes.push({
    name: "alert", path: /^\/alerts\/([0-9a-f]{24})$/, title: "Alert events", need: "read",
    async render(main, [id], _q, view) {
      const rule = (await D.api("GET", "/api/alerts/" + id)).data;
      const events = await D.all("/api/alerts/" + id + "/events", 1000);
      if (!view.alive) return;
      main.appendChild(h("h1", null, "Rule ", rule.name));
      main.appendChild(h("p", null, h("a", { href: "#/alerts?bucket=" + rule.bucketId }, "← all rules"), " · ", rule.condition, " · ",
        D.badge(rule.status, rule.status === "active" ? "ok" : "warn"), " · cooldown " + rule.cooldownMinutes + " min"));
      const now = Date.now();
      main.appendChild(h("section", { class: "panel" }, h("h2", null, "Triggers over time"),
        D.timeline({ id: "events-timeline", label: "Triggers of " + rule.name, from: Math.min(now - 86400e3, Date.parse(rule.createdAt)), to: now,
          events: events.map((e) => ({ t: Date.parse(e.triggeredAt), state: e.delivery.state, text: D.fmtTime(e.triggeredAt) + ": value " + D.fmtNum(e.value) + ", webhook " + e.delivery.state })) }),
        h("p", { class: "muted" }, "green: delivered · amber: pending · red: failed or blocked")));
      main.appendChild(h("section", { class: "panel" }, h("h2", null, "Events (newest first)"),
        D.table([{ label: "Triggered" }, { label: "Value", num: true }, { label: "Delivery" }, { label: "Attempts", num: true }, { label: "Last status", num: true }, { label: "Last error" }, { label: "Delivered" }],
          events.map((e) => [D.fmtTime(e.triggeredAt), D.fmtNum(e.value), D.badge(e.delivery.state, e.delivery.state === "delivered" ? "ok" : e.delivery.state === "pending" ? "warn" : "bad"),
            D.fmtNum(e.delivery.attempts), e.delivery.lastStatus ? String(e.delivery.lastStatus) : "—", e.delivery.lastError || "", D.fmtTime(e.delivery.deliveredAt)]),
          { id: "events-table", label: "Events", empty: "This rule has not triggered." })));
    },
  });
})();
