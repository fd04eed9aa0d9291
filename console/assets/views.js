// views.js: sign-in, the organization overview, buckets, a bucket's
// sources and analytics, keys and webhooks.
"use strict";

D.routes = [];
const h = D.h;

// bucketChoice returns the bucket a bucket-scoped page shows: the key's own
// for a bucket key; for an admin key the one in ?bucket=, else the first.
// It renders a picker for admin keys into el.
D.bucketChoice = async function (el, query, path) {
  const s = D.session.get();
  if (s.keyType !== "admin") return { _id: s.bucketId, name: s.bucketName };
  const buckets = await D.all("/api/buckets");
  if (buckets.length === 0) {
    el.appendChild(h("p", null, "No buckets yet. ", h("a", { href: "#/buckets" }, "Create one"), " first."));
    return null;
  }
  const want = query.get("bucket");
  const b = buckets.find((x) => x._id === want) || buckets[0];
  el.appendChild(h("div", { class: "row" }, D.field("Bucket", D.select({
    id: "bucket-pick", onchange: (e) => D.go(path + "?bucket=" + e.target.value),
  }, buckets.map((x) => [x._id, x.name + (x.status === "archived" ? " (archived)" : "")]), b._id))));
  return b;
};

// formValues reads named controls of a form into an object.
function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") {
      if (!out[el.name]) out[el.name] = [];
      if (el.checked) out[el.name].push(el.value);
    } else out[el.name] = el.value;
  }
  return out;
}
D.formValues = formValues;

// submitting wires a form's submit to fn, showing its error in the form.
D.onSubmit = function (form, fn) {
  const err = h("p", { class: "error", role: "alert" });
  form.appendChild(err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const btn = form.querySelector("button[type=submit]");
    if (btn) btn.disabled = true;
    try { await fn(formValues(form)); } catch (x) { err.textContent = x.detail || x.message; } finally { if (btn) btn.disabled = false; }
  });
  return form;
};

// ---- sign-in ----
D.routes.push({
  name: "signin", path: /^\/signin$/, title: "Sign in",
  render(main) {
    const keyInput = h("input", { id: "secret", name: "secret", type: "password", autocomplete: "off", spellcheck: "false", required: true });
    const bucketRow = h("label", { hidden: true }, "Bucket id (a write or read key belongs to one bucket)",
      h("input", { id: "signin-bucket", name: "bucket", autocomplete: "off", spellcheck: "false", pattern: "[0-9a-f]{24}" }));
    const opBox = h("input", { type: "checkbox", id: "as-operator", name: "operator", value: "yes" });
    const sync = () => {
      const v = keyInput.value.trim();
      bucketRow.hidden = !(v.startsWith("dakkio_w_") || v.startsWith("dakkio_r_"));
      if (v.startsWith("dakkio_op_")) opBox.checked = true;
    };
    keyInput.addEventListener("input", sync);
    const form = h("form", { id: "signin-form", autocomplete: "off" },
      h("label", null, "API key or operator token", keyInput),
      bucketRow,
      h("label", { class: "inline" }, opBox, "This is the operator token (organizations and cluster pages)"),
      h("button", { type: "submit", id: "signin-submit" }, "Sign in"),
      h("p", { class: "muted" }, "The key is kept in this tab's session storage only and sent to this node only; closing the tab forgets it."));
    D.onSubmit(form, async (v) => {
      const cred = await D.signIn(keyInput.value, v.bucket, opBox.checked);
      D.session.set(cred);
      D.go(D.home());
    });
    main.appendChild(h("section", { class: "panel signin" }, h("h1", null, "Sign in to the dakkio console"), form));
    keyInput.focus();
  },
});

// ---- overview ----
D.routes.push({
  name: "overview", path: /^\/overview$/, title: "Overview", nav: "#/overview", need: "admin", order: 1,
  async render(main, _p, query, view) {
    const o = (await D.api("GET", "/api/analytics/overview")).data;
    if (!view.alive) return;
    const u = o.usage, t = o.totals, r = o.recentActivity;
    main.appendChild(h("h1", null, o.organization.name, " ", h("span", { class: "muted" }, "· plan " + o.plan.name)));
    main.appendChild(h("div", { class: "grid", id: "totals" },
      D.card("buckets", D.fmtNum(t.buckets)), D.card("data sources", D.fmtNum(t.dataSources)),
      D.card("data points", D.fmtNum(t.dataPoints)), D.card("alert rules", D.fmtNum(t.alertRules)),
      D.card("API keys", D.fmtNum(t.apiKeys)), D.card("points, last 24 h", D.fmtNum(r.dataPointsLast24h)),
      D.card("alerts, last 24 h", D.fmtNum(r.alertsTriggeredLast24h))));
    const limited = u.apiCallsLimit >= 0;
    main.appendChild(h("div", { class: "grid wide" },
      h("section", { class: "panel", id: "usage-calls" }, h("h2", null, "API calls this month"),
        h("div", { class: "card value" }, D.fmtNum(u.apiCallsThisMonth), " ",
          h("span", { class: "muted" }, limited ? "of " + D.fmtNum(u.apiCallsLimit) + " (" + u.apiCallsPercentage + "%)" : "(plan without a limit)")),
        limited ? D.meter(u.apiCallsThisMonth / u.apiCallsLimit, "API calls against the plan", true) : D.meter(0, "API calls (unlimited plan)")),
      h("section", { class: "panel", id: "usage-storage" }, h("h2", null, "Storage"),
        h("div", { class: "card value" }, u.storageUsedFormatted), h("p", { class: "muted" }, D.fmtNum(u.storageUsedBytes) + " bytes of points and rollups"),
        h("div", { id: "storage-by-bucket" })),
      h("section", { class: "panel" }, h("h2", null, "Recent activity"),
        h("p", null, "Last data ingested: ", D.fmtTime(r.lastDataIngestion)),
        h("p", null, "Last alert triggered: ", D.fmtTime(r.lastAlertTriggered)),
        h("p", null, "Plan limits: ", o.plan.maxBuckets < 0 ? "unlimited buckets" : o.plan.maxBuckets + " buckets", ", retention up to ",
          o.plan.maxRetentionDays < 0 ? "any" : o.plan.maxRetentionDays + " days"))));
    const ingest = h("section", { class: "panel", id: "ingestion" }, h("h2", null, "Points ingested per hour, last 7 days (all buckets)"), h("p", { class: "muted" }, "Loading…"));
    main.appendChild(ingest);
    // The overview has no hourly series: it is the sum of the buckets'.
    const buckets = await D.all("/api/buckets");
    const perHour = new Map(), perBucket = [];
    await Promise.all(buckets.slice(0, 50).map(async (b) => {
      const a = (await D.api("GET", "/api/analytics/buckets/" + b._id + "?period=7d")).data;
      for (const x of a.ingestionRate.dataPointsPerHour) {
        const k = new Date(x.hour).getTime();
        perHour.set(k, (perHour.get(k) || 0) + x.count);
      }
      perBucket.push({ label: b.name, value: a.summary.totalDataPoints, suffix: " points" });
    }));
    if (!view.alive) return;
    const now = Date.now();
    const bars = [...perHour.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, v }));
    D.replace(ingest, h("h2", null, "Points ingested per hour, last 7 days (all buckets)"),
      D.barChart({ id: "chart-ingestion", label: "Points ingested per hour", bars, from: now - 7 * 86400e3, to: now, unit: "points" }));
    perBucket.sort((a, b) => b.value - a.value);
    D.replace(document.getElementById("storage-by-bucket"), h("h3", null, "Points stored by bucket"),
      perBucket.length ? D.hbars(perBucket.slice(0, 10), { id: "points-by-bucket" }) : h("p", { class: "muted" }, "No buckets yet."));
  },
});

// ---- buckets ----
async function confirmDeleteBucket(b) {
  // The cascade, counted before the user confirms.
  const full = (await D.api("GET", "/api/buckets/" + b._id)).data;
  const alerts = await D.api("GET", "/api/buckets/" + b._id + "/alerts?limit=1");
  const st = full.stats;
  const body = h("div", { id: "cascade" },
    h("p", null, "Deleting the bucket ", h("strong", null, b.name), " also deletes, for good:"),
    h("ul", null,
      h("li", { id: "cascade-sources" }, D.fmtNum(st.dataSourceCount) + " data sources"),
      h("li", { id: "cascade-points" }, D.fmtNum(st.dataPointCount) + " data points"),
      h("li", { id: "cascade-keys" }, D.fmtNum(st.apiKeyCount) + " API keys (they stop working at once)"),
      h("li", { id: "cascade-alerts" }, D.fmtNum(alerts.pagination ? alerts.pagination.total : alerts.data.length) + " alert rules")));
  if (!(await D.ask("Delete bucket " + b.name + "?", body, "Delete bucket", { danger: true }))) return;
  const r = (await D.api("DELETE", "/api/buckets/" + b._id)).data;
  const d = r.deletedResources;
  D.toast("Deleted " + r.deletedBucket.name + ": " + d.dataSources + " sources, " + d.dataPoints + " points, " + d.apiKeys + " keys, " + d.alertRules + " alert rules.");
}

function bucketForm(b) {
  return [
    D.field("Name", h("input", { name: "name", id: "bucket-name", required: true, maxlength: 100, value: b ? b.name : "" })),
    D.field("Description", h("input", { name: "description", id: "bucket-description", maxlength: 1000, value: b ? b.description : "" })),
    D.field("Retention (days)", h("input", { name: "retentionDays", id: "bucket-retention", type: "number", min: 1, max: 3650, value: b ? b.retentionDays : 30 })),
  ];
}

async function editBucket(b) {
  const holder = h("div", null, bucketForm(b), D.field("Status", D.select({ name: "status", id: "bucket-status" }, ["active", "archived"], b.status)));
  const err = h("p", { class: "error", role: "alert" });
  holder.appendChild(err);
  await D.ask("Edit bucket " + b.name, holder, "Save", {
    onOK: async () => {
      const v = {};
      for (const el of holder.querySelectorAll("[name]")) v[el.name] = el.value;
      const patch = {};
      if (v.name !== b.name) patch.name = v.name;
      if (v.description !== b.description) patch.description = v.description;
      if (Number(v.retentionDays) !== b.retentionDays) patch.retentionDays = Number(v.retentionDays);
      if (v.status !== b.status) patch.status = v.status;
      if (Object.keys(patch).length === 0) return true;
      try {
        await D.api("PATCH", "/api/buckets/" + b._id, patch);
        D.toast("Saved " + v.name);
        return true;
      } catch (e) { err.textContent = e.detail; return false; }
    },
  });
}

D.routes.push({
  name: "buckets", path: /^\/buckets$/, title: "Buckets", nav: "#/buckets", need: "admin", order: 2,
  async render(main, _p, _q, view) {
    const buckets = await D.all("/api/buckets");
    if (!view.alive) return;
    main.appendChild(h("h1", null, "Buckets"));
    const act = (fn) => async () => {
      try { await fn(); } catch (e) { D.toast(e.detail || e.message, true); }
      D.reload();
    };
    main.appendChild(h("section", { class: "panel" }, D.table(
      [{ label: "Name" }, { label: "Status" }, { label: "Retention", num: true }, { label: "Description" }, { label: "Created" }, { label: "Actions", actions: true }],
      buckets.map((b) => ({
        attrs: { dataset: { bucket: b._id, name: b.name } },
        cells: [h("a", { href: "#/buckets/" + b._id }, b.name), D.badge(b.status, b.status === "active" ? "ok" : "warn"), b.retentionDays + " d",
          b.description || "", D.fmtTime(b.createdAt), [
            h("button", { type: "button", class: "small ghost", "data-act": "edit", onclick: act(() => editBucket(b)) }, "Edit"),
            h("button", { type: "button", class: "small ghost", "data-act": "archive", onclick: act(async () => {
              await D.api("PATCH", "/api/buckets/" + b._id, { status: b.status === "active" ? "archived" : "active" });
              D.toast((b.status === "active" ? "Archived " : "Restored ") + b.name);
            }) }, b.status === "active" ? "Archive" : "Unarchive"),
            h("button", { type: "button", class: "small danger", "data-act": "delete", onclick: act(() => confirmDeleteBucket(b)) }, "Delete")]],
      })), { id: "buckets-table", label: "Buckets", empty: "No buckets yet: create the first below." })));
    const form = h("form", { id: "bucket-create", class: "row" }, bucketForm(null), h("button", { type: "submit" }, "Create bucket"));
    D.onSubmit(form, async (v) => {
      const body = { name: v.name, description: v.description, retentionDays: Number(v.retentionDays) };
      const b = (await D.api("POST", "/api/buckets", body)).data;
      D.toast("Created bucket " + b.name);
      D.reload();
    });
    main.appendChild(h("section", { class: "panel" }, h("h2", null, "New bucket"), form));
  },
});

// ---- a bucket: sources and analytics ----
function parseSchema(text) {
  // "temperature:number:C, door:boolean" → schema
  const schema = {};
  for (const part of text.split(",").map((x) => x.trim()).filter(Boolean)) {
    const [name, type, unit] = part.split(":").map((x) => x.trim());
    if (!name) continue;
    schema[name] = { type: type || "number" };
    if (unit) schema[name].unit = unit;
  }
  return schema;
}

async function confirmDeleteSource(bucketId, s) {
  const full = (await D.api("GET", "/api/buckets/" + bucketId + "/sources/" + s._id)).data;
  const rules = (await D.all("/api/buckets/" + bucketId + "/alerts")).filter((r) => r.dataSourceId === s._id);
  const body = h("div", { id: "cascade" },
    h("p", null, "Deleting the data source ", h("strong", null, s.name), " also deletes, for good:"),
    h("ul", null,
      h("li", { id: "cascade-points" }, D.fmtNum(full.stats.dataPointCount) + " data points"),
      h("li", { id: "cascade-alerts" }, D.fmtNum(rules.length) + " alert rules")));
  if (!(await D.ask("Delete data source " + s.name + "?", body, "Delete data source", { danger: true }))) return;
  const r = (await D.api("DELETE", "/api/buckets/" + bucketId + "/sources/" + s._id)).data;
  D.toast("Deleted " + r.deletedDataSource.name + ": " + r.deletedResources.dataPoints + " points, " + r.deletedResources.alertRules + " alert rules.");
}

D.routes.push({
  name: "bucket", path: /^\/buckets\/([0-9a-f]{24})$/, title: "Bucket", need: "read", order: 2,
  nav: () => "#/buckets/" + D.session.get().bucketId,
  navMatch: /^\/buckets\//,
  get navHidden() { return D.can("admin"); },
  async render(main, [id], query, view) {
    const period = ["24h", "7d", "30d", "90d"].includes(query.get("period")) ? query.get("period") : "7d";
    const [sources, analytics, counts, last] = await Promise.all([
      D.all("/api/buckets/" + id + "/sources"),
      D.api("GET", "/api/analytics/buckets/" + id + "?period=" + period),
      D.api("POST", "/api/data/query", { bucketId: id, aggregation: "count" }),
      D.api("POST", "/api/data/query", { bucketId: id, aggregation: "last" }),
    ]);
    if (!view.alive) return;
    const a = analytics.data;
    const countBy = new Map(counts.data.map((r) => [r.dataSourceId, r.count]));
    const lastBy = new Map(last.data.map((r) => [r.dataSourceId, r.values]));
    const statBy = new Map(a.dataSourceStats.map((s) => [s._id, s]));
    main.appendChild(h("h1", null, "Bucket ", a.bucket.name));
    if (D.can("admin")) {
      const bk = (await D.api("GET", "/api/buckets/" + id)).data;
      if (!view.alive) return;
      main.appendChild(h("p", { id: "bucket-info" }, D.badge(bk.status, bk.status === "active" ? "ok" : "warn"), " retention " + bk.retentionDays + " days · " +
        D.fmtNum(bk.stats.apiKeyCount) + " keys" + (bk.description ? " · " + bk.description : "")));
    }
    main.appendChild(h("p", { class: "row" },
      h("a", { href: "#/buckets/" + id + "/explore", id: "explore-link" }, "Chart a query →"),
      h("a", { href: "#/alerts?bucket=" + id }, "Alert rules →"),
      D.can("admin") ? h("a", { href: "#/keys?bucket=" + id }, "Keys →") : null,
      h("span", { class: "muted mono" }, id)));
    const act = (fn) => async () => {
      try { await fn(); } catch (e) { D.toast(e.detail || e.message, true); }
      D.reload();
    };
    main.appendChild(h("section", { class: "panel" }, h("h2", null, "Data sources"), D.table(
      [{ label: "Name" }, { label: "Type" }, { label: "Fields" }, { label: "Points", num: true }, { label: "Last point" }, { label: "Last values" }, { label: "Status" },
        ...(D.can("write") ? [{ label: "", actions: true }] : [])],
      sources.map((s) => {
        const st = statBy.get(s._id);
        const lv = lastBy.get(s._id) || {};
        return { attrs: { dataset: { source: s._id, name: s.name } }, cells: [h("a", { href: "#/buckets/" + id + "/explore?sources=" + s._id, title: "Chart " + s.name }, s.name), s.type,
          Object.entries(s.schema).map(([f, d]) => f + " (" + d.type + (d.unit ? ", " + d.unit : "") + ")").join(", "),
          D.fmtNum(countBy.get(s._id) || 0), st && st.lastDataPoint ? D.fmtTime(st.lastDataPoint) + " (" + D.fmtAgo(st.lastDataPoint) + ")" : "none",
          Object.entries(lv).map(([f, v]) => f + " = " + (typeof v === "number" ? D.fmtNum(v) : v)).join(", "),
          D.badge(s.status || "active", s.status === "inactive" ? "warn" : "ok"),
          D.can("write") ? [
            h("button", { type: "button", class: "small ghost", "data-act": "toggle", onclick: act(() =>
              D.api("PATCH", "/api/buckets/" + id + "/sources/" + s._id, { status: s.status === "inactive" ? "active" : "inactive" })) },
            s.status === "inactive" ? "Activate" : "Deactivate"),
            D.can("admin") ? h("button", { type: "button", class: "small danger", "data-act": "delete", onclick: act(() => confirmDeleteSource(id, s)) }, "Delete") : null] : null] };
      }), { id: "sources-table", label: "Data sources", empty: "No data sources yet." })));
    if (D.can("write")) {
      const form = h("form", { id: "source-create", class: "row" },
        D.field("Name", h("input", { name: "name", required: true, maxlength: 100 })),
        D.field("Type", D.select({ name: "type" }, ["sensor", "api", "webhook", "manual", "application", "service"], "sensor")),
        D.field("Fields (name:type:unit, …)", h("input", { name: "schema", required: true, placeholder: "temperature:number:C, door:boolean" })),
        h("button", { type: "submit" }, "Create source"));
      D.onSubmit(form, async (v) => {
        const s = (await D.api("POST", "/api/buckets/" + id + "/sources", { name: v.name, type: v.type, schema: parseSchema(v.schema) })).data;
        D.toast("Created data source " + s.name);
        D.reload();
      });
      main.appendChild(h("section", { class: "panel" }, h("h2", null, "New data source"), form));
    }
    // Analytics.
    const sum = a.summary;
    const now = Date.now();
    const spans = { "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3, "90d": 90 * 86400e3 };
    main.appendChild(h("section", { class: "panel", id: "bucket-analytics" },
      h("div", { class: "row" }, h("h2", null, "Analytics"), D.field("Period", D.select({ id: "period", onchange: (e) => D.go("/buckets/" + id + "?period=" + e.target.value) },
        [["24h", "last 24 hours"], ["7d", "last 7 days"], ["30d", "last 30 days"], ["90d", "last 90 days"]], period))),
      h("div", { class: "grid" }, D.card("points in total", D.fmtNum(sum.totalDataPoints)), D.card("points in period", D.fmtNum(sum.dataPointsInPeriod)),
        D.card("points per day", D.fmtNum(sum.avgDataPointsPerDay)), D.card("data sources", D.fmtNum(sum.dataSources)), D.card("active alert rules", D.fmtNum(sum.activeAlerts))),
      h("h3", null, "Points per hour"),
      D.barChart({ id: "chart-bucket-ingestion", label: "Points per hour", bars: a.ingestionRate.dataPointsPerHour.map((x) => ({ t: new Date(x.hour).getTime(), v: x.count })),
        from: now - spans[period], to: now, unit: "points" }),
      h("h3", null, "Sources in the period"),
      D.table([{ label: "Source" }, { label: "Points", num: true }, { label: "Average" }, { label: "Min" }, { label: "Max" }],
        a.dataSourceStats.map((s) => [s.name, D.fmtNum(s.dataPointCount),
          ...["avgValues", "minValues", "maxValues"].map((k) => Object.entries(s[k] || {}).map(([f, v]) => f + " " + D.fmtNum(v)).join(", "))]),
        { id: "source-stats", label: "Source statistics" }),
      h("h3", null, "Alert triggers by rule (" + D.fmtNum(a.alertActivity.totalTriggered) + " in all)"),
      a.alertActivity.byRule.length ? D.hbars(a.alertActivity.byRule.map((r) => ({ label: r.name, value: r.count })), { id: "alerts-by-rule" }) : h("p", { class: "muted" }, "No alert rules.")));
  },
});

// ---- keys ----
D.routes.push({
  name: "keys", path: /^\/keys$/, title: "Keys", nav: "#/keys", need: "admin", order: 4,
  async render(main, _p, query, view) {
    main.appendChild(h("h1", null, "API keys"));
    const b = await D.bucketChoice(main, query, "/keys");
    if (!b || !view.alive) return;
    const shown = h("div", { id: "new-key" });
    const form = h("form", { id: "key-create", class: "row" },
      D.field("Name", h("input", { name: "name", id: "key-name", required: true, maxlength: 100 })),
      D.field("Type", D.select({ name: "type", id: "key-type" }, [["write", "write (ingest, create sources and alerts, read)"], ["read", "read only"]], "write")),
      h("button", { type: "submit" }, "Create key"));
    D.onSubmit(form, async (v) => {
      const k = (await D.api("POST", "/api/buckets/" + b._id + "/keys", { name: v.name, type: v.type })).data;
      D.replace(shown, D.secretBox(k.key, "The new " + k.type + " key " + k.name), h("p", { class: "muted" }, "Bucket id for signing in with it: ", h("code", null, b._id)));
      await list();
    });
    const listEl = h("div", { id: "keys-list" });
    async function list() {
      const keys = await D.all("/api/buckets/" + b._id + "/keys");
      D.replace(listEl, D.table([{ label: "Name" }, { label: "Type" }, { label: "Prefix" }, { label: "Created" }, { label: "Last used" }, { label: "", actions: true }],
        keys.map((k) => ({ attrs: { dataset: { key: k._id, name: k.name } }, cells: [k.name, k.type, h("code", null, k.keyPrefix + "…"), D.fmtTime(k.createdAt),
          k.lastUsedAt ? D.fmtTime(k.lastUsedAt) + " (" + D.fmtAgo(k.lastUsedAt) + ")" : "never",
          h("button", { type: "button", class: "small danger", "data-act": "revoke", onclick: async () => {
            if (!(await D.ask("Revoke key " + k.name + "?", h("p", null, "Every node refuses the key from now on. This cannot be undone."), "Revoke", { danger: true }))) return;
            try {
              await D.api("DELETE", "/api/buckets/" + b._id + "/keys/" + k._id);
              D.toast("Revoked " + k.name);
            } catch (e) { D.toast(e.detail, true); }
            await list();
          } }, "Revoke")] })), { id: "keys-table", label: "Keys", empty: "No keys for this bucket." }));
    }
    await list();
    main.appendChild(h("section", { class: "panel" }, h("h2", null, "New key for " + b.name), form, shown));
    main.appendChild(h("section", { class: "panel" }, h("h2", null, "Keys of " + b.name), listEl));
  },
});

// ---- webhooks (issue 12) ----
const EVENTS = ["alert.triggered", "data.received", "bucket.updated"];
D.routes.push({
  name: "webhooks", path: /^\/webhooks$/, title: "Webhooks", nav: "#/webhooks", need: "webhooks", order: 5,
  async render(main, _p, query, view) {
    main.appendChild(h("h1", null, "Webhooks"));
    const b = await D.bucketChoice(main, query, "/webhooks");
    if (!b || !view.alive) return;
    const deliveries = h("section", { class: "panel", id: "deliveries", hidden: true });
    const listEl = h("div", { id: "webhooks-list" });
    async function showDeliveries(w) {
      const r = await D.api("GET", "/api/webhooks/" + w._id + "/deliveries?limit=100");
      deliveries.hidden = false;
      D.replace(deliveries, h("h2", null, "Deliveries of " + (w.name || w.url)),
        D.table([{ label: "Event" }, { label: "Status" }, { label: "Attempts", num: true }, { label: "Last status", num: true }, { label: "Last error" }, { label: "Created" }, { label: "Delivered" }],
          r.data.map((d) => [d.event, D.badge(d.status, d.status === "delivered" ? "ok" : d.status === "pending" ? "warn" : "bad"), D.fmtNum(d.attempts),
            d.lastStatusCode ? String(d.lastStatusCode) : "—", d.lastError || "", D.fmtTime(d.createdAt), D.fmtTime(d.deliveredAt)]),
          { id: "deliveries-table", label: "Deliveries", empty: "No deliveries yet." }));
    }
    async function list() {
      const hooks = await D.all("/api/webhooks?bucketId=" + b._id);
      const act = (fn) => async () => { try { await fn(); } catch (e) { D.toast(e.detail || e.message, true); } await list(); };
      D.replace(listEl, D.table([{ label: "Name" }, { label: "URL" }, { label: "Events" }, { label: "Status" }, { label: "Secret" }, { label: "", actions: true }],
        hooks.map((w) => ({ attrs: { dataset: { webhook: w._id, name: w.name } }, cells: [w.name || "", h("code", null, w.url), w.events.join(", "),
          D.badge(w.status, w.status === "active" ? "ok" : "warn"), w.hasSecret ? "yes" : "no", [
            h("button", { type: "button", class: "small ghost", "data-act": "deliveries", onclick: act(() => showDeliveries(w)) }, "Deliveries"),
            h("button", { type: "button", class: "small ghost", "data-act": "test", onclick: act(async () => {
              const d = (await D.api("POST", "/api/webhooks/" + w._id + "/test")).data;
              D.toast("Test event sent: " + d.status);
              await showDeliveries(w);
            }) }, "Send test"),
            h("button", { type: "button", class: "small ghost", "data-act": "toggle", onclick: act(() =>
              D.api("PATCH", "/api/webhooks/" + w._id, { status: w.status === "active" ? "paused" : "active" })) }, w.status === "active" ? "Pause" : "Resume"),
            h("button", { type: "button", class: "small danger", "data-act": "delete", onclick: act(async () => {
              if (await D.ask("Delete webhook?", h("p", null, "Deliveries to " + w.url + " stop."), "Delete", { danger: true })) await D.api("DELETE", "/api/webhooks/" + w._id);
            }) }, "Delete")]] })), { id: "webhooks-table", label: "Webhooks", empty: "No webhooks for this bucket." }));
    }
    const form = h("form", { id: "webhook-create" },
      h("div", { class: "row" },
        D.field("URL", h("input", { name: "url", id: "webhook-url", type: "url", required: true, maxlength: 2048 })),
        D.field("Name", h("input", { name: "name", maxlength: 100 })),
        D.field("Secret (optional)", h("input", { name: "secret", type: "password", autocomplete: "off" }))),
      h("fieldset", null, h("legend", null, "Events"), h("div", { class: "row" },
        EVENTS.map((e) => h("label", { class: "inline" }, h("input", { type: "checkbox", name: "events", value: e, checked: e === "alert.triggered" }), e)))),
      h("div", { class: "row end" }, h("button", { type: "submit" }, "Create webhook")));
    D.onSubmit(form, async (v) => {
      const body = { bucketId: b._id, url: v.url, events: v.events };
      if (v.name) body.name = v.name;
      if (v.secret) body.secret = v.secret;
      await D.api("POST", "/api/webhooks", body);
      D.toast("Created webhook");
      form.reset();
      await list();
    });
    await list();
    main.appendChild(h("section", { class: "panel" }, h("h2", null, "Webhooks of " + b.name), listEl));
    main.appendChild(deliveries);
    main.appendChild(h("section", { class: "panel" }, h("h2", null, "New webhook"), form));
  },
});
