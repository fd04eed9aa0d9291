// operator.js: the operator's pages, organizations and plans, and the
// cluster refreshing live.
"use strict";

(function () {
  const h = D.h;
  const PLANS = ["free", "pro", "enterprise"];

  D.routes.push({
    name: "orgs", path: /^\/operator\/orgs$/, title: "Organizations", nav: "#/operator/orgs", need: "operator", order: 10,
    async render(main, _p, _q, view) {
      main.appendChild(h("h1", null, "Organizations"));
      const listEl = h("div", { id: "orgs-list" });
      const shown = h("div", { id: "new-org-key" });
      const keysPanel = h("section", { class: "panel", id: "org-keys", hidden: true });
      async function showKeys(o) {
        const keys = await D.all("/api/operator/orgs/" + o._id + "/keys");
        keysPanel.hidden = false;
        D.replace(keysPanel, h("h2", null, "Admin keys of " + o.name),
          D.table([{ label: "Name" }, { label: "Prefix" }, { label: "Created" }, { label: "Last used" }, { label: "", actions: true }],
            keys.map((k) => ({ attrs: { dataset: { key: k._id, name: k.name } }, cells: [k.name, h("code", null, k.keyPrefix + "…"), D.fmtTime(k.createdAt),
              k.lastUsedAt ? D.fmtTime(k.lastUsedAt) + " (" + D.fmtAgo(k.lastUsedAt) + ")" : "never",
              h("button", { type: "button", class: "small danger", "data-act": "revoke", onclick: async () => {
                if (!(await D.ask("Revoke admin key " + k.name + " of " + o.name + "?", h("p", null, "Every node refuses the key within the key lease. This cannot be undone."), "Revoke", { danger: true }))) return;
                try {
                  await D.api("DELETE", "/api/operator/orgs/" + o._id + "/keys/" + k._id);
                  D.toast("Revoked " + k.name);
                } catch (x) { D.toast(x.detail || x.message, true); }
                await showKeys(o);
              } }, "Revoke")] })), { id: "org-keys-table", label: "Admin keys", empty: "This organization has no admin key: make one with \u201cNew admin key\u201d." }));
      }
      async function list() {
        const orgs = await D.all("/api/operator/orgs");
        if (!view.alive) return;
        D.replace(listEl, D.table([{ label: "Name" }, { label: "Plan" }, { label: "Id" }, { label: "Created" }, { label: "Admin keys", actions: true }],
          orgs.map((o) => ({ attrs: { dataset: { org: o._id, name: o.name } }, cells: [o.name,
            D.select({ "aria-label": "Plan of " + o.name, "data-act": "plan", onchange: async (e) => {
              try {
                await D.api("PATCH", "/api/operator/orgs/" + o._id, { plan: e.target.value });
                D.toast(o.name + " is now on the " + e.target.value + " plan");
              } catch (x) { D.toast(x.detail || x.message, true); }
              await list();
            } }, PLANS, o.plan),
            h("code", null, o._id), D.fmtTime(o.createdAt), [
            h("button", { type: "button", class: "small ghost", "data-act": "new-key", onclick: async () => {
              try {
                const k = (await D.api("POST", "/api/operator/orgs/" + o._id + "/keys", { name: "console" })).data;
                D.replace(shown, D.secretBox(k.key, "A new admin key of " + o.name));
              } catch (x) { D.toast(x.detail || x.message, true); }
            } }, "New admin key"), " ",
            h("button", { type: "button", class: "small ghost", "data-act": "keys", onclick: () => showKeys(o).catch((x) => D.toast(x.detail || x.message, true)) }, "Keys")]] })),
          { id: "orgs-table", label: "Organizations" }));
      }
      const form = h("form", { id: "org-create", class: "row" },
        D.field("Name", h("input", { name: "name", id: "org-name", required: true, maxlength: 100 })),
        D.field("Plan", D.select({ name: "plan", id: "org-plan" }, PLANS, "free")),
        h("button", { type: "submit" }, "Create organization"));
      D.onSubmit(form, async (v) => {
        const r = (await D.api("POST", "/api/operator/orgs", { name: v.name, plan: v.plan })).data;
        D.replace(shown, D.secretBox(r.adminKey.key, "The first admin key of " + r.organization.name));
        form.reset();
        await list();
      });
      await list();
      main.appendChild(h("section", { class: "panel" }, listEl));
      main.appendChild(h("section", { class: "panel" }, h("h2", null, "New organization"), form, shown));
      main.appendChild(keysPanel);
    },
  });

  function clusterView(c) {
    const nodes = c.nodes || [];
    const leader = nodes.find((n) => n.nodeId === c.leaderId);
    const healthy = nodes.filter((n) => n.healthy).length;
    const out = [];
    out.push(h("div", { class: "grid", id: "cluster-summary" },
      D.card("leader", c.leaderId || "none", "leader"),
      D.card("healthy nodes", healthy + " of " + nodes.length, "healthy"),
      D.card("answered by", c.nodeId),
      D.card("term", String(c.raft ? c.raft.term : "—")),
      D.card("commit / applied", c.raft ? c.raft.commitIndex + " / " + c.raft.appliedIndex : "—")));
    if (!leader) out.push(h("p", { class: "error", role: "alert" }, "No leader is known: metadata changes cannot be made until one is elected."));
    out.push(h("h2", null, "Nodes"), D.table([{ label: "Node" }, { label: "State" }, { label: "Health" }, { label: "Voter" }, { label: "HTTP" }, { label: "Raft" }],
      nodes.map((n) => ({ attrs: { dataset: { node: n.nodeId, healthy: n.healthy } }, cells: [n.nodeId + (n.nodeId === c.nodeId ? " (this node)" : ""), n.state,
        D.badge(n.healthy ? "healthy" : "unreachable", n.healthy ? "ok" : "bad"), n.voter ? "yes" : "no", n.httpAddress || "—", n.raftAddress] })),
      { id: "nodes-table", label: "Nodes" }));
    const placement = c.placement || {};
    const moves = c.moves || {};
    out.push(h("h2", null, "Bucket placement"), D.table([{ label: "Bucket" }, { label: "Replicas" }, { label: "Moving" }],
      Object.keys(placement).sort().map((b) => {
        const m = moves[b];
        return { attrs: { dataset: { bucket: b } }, cells: [h("code", null, b), (placement[b] || []).join(", "),
          m ? (m.pending && m.pending.length ? "adding " + m.pending.join(", ") : "") + (m.leaving && m.leaving.length ? " removing " + m.leaving.join(", ") : "") : ""] };
      }), { id: "placement-table", label: "Placement", empty: "No buckets are placed (one node, or no buckets yet)." }));
    const hints = c.hintedHandoff || [];
    out.push(h("h2", null, "Hint queues on this node"), D.table([{ label: "For node" }, { label: "Hints", num: true }, { label: "Bytes", num: true }, { label: "Oldest" }, { label: "Replayed", num: true }, { label: "Dropped", num: true }],
      hints.map((q) => [q.target, D.fmtNum(q.hints), D.fmtBytes(q.bytes), D.fmtTime(q.oldest), D.fmtNum(q.replayed), D.fmtNum(q.dropped)]),
      { id: "hints-table", label: "Hint queues", empty: "No hints queued: every replica took its writes." }));
    const r = c.repair;
    if (r) {
      const frac = r.bucketsTotal ? r.bucketsDone / r.bucketsTotal : 1;
      out.push(h("h2", null, "Repair on this node"), h("div", { id: "repair" },
        h("div", { class: "progress" }, h("span", null, r.running ? "pass running" : "idle"), D.meter(frac, "Repair progress"),
          h("span", null, r.bucketsDone + " / " + r.bucketsTotal + " buckets")),
        h("p", { class: "muted" }, "Passes " + r.passes + " · hours compared " + D.fmtNum(r.hoursCompared) + " · repaired " + D.fmtNum(r.hoursRepaired) +
          " hours, " + D.fmtNum(r.pointsRepaired) + " points · buckets behind " + r.bucketsBehind + " · last pass ended " + D.fmtTime(r.lastPassEndedAt)),
        r.lastError ? h("p", { class: "error" }, "Last error: " + r.lastError) : null));
    }
    const rep = c.replication;
    if (rep) {
      out.push(h("h2", null, "Replication counters on this node"), h("div", { class: "grid", id: "replication" },
        Object.entries(rep).map(([k, v]) => D.card(k.replace(/([A-Z])/g, " $1").toLowerCase(), D.fmtNum(v)))));
    }
    return out;
  }

  D.routes.push({
    name: "cluster", path: /^\/operator\/cluster$/, title: "Cluster", nav: "#/operator/cluster", need: "operator", order: 11,
    async render(main, _p, _q, view) {
      const stamp = h("span", { class: "muted", id: "cluster-updated", "aria-live": "off" });
      const body = h("div", { id: "cluster", dataset: { refreshes: 0 } });
      main.appendChild(h("div", { class: "row" }, h("h1", null, "Cluster"), stamp));
      main.appendChild(h("section", { class: "panel" }, body));
      const refresh = async () => {
        try {
          const c = (await D.api("GET", "/api/operator/cluster")).data;
          if (!view.alive) return;
          D.replace(body, clusterView(c));
          stamp.textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC, every 2 s";
        } catch (e) {
          if (!view.alive) return;
          stamp.textContent = "refresh failed: " + (e.detail || e.message);
        }
        body.dataset.refreshes = Number(body.dataset.refreshes) + 1;
      };
      await refresh();
      view.every(2000, refresh);
    },
  });
})();
