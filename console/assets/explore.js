// explore.js: a chart (or table, or CSV) of any query of a bucket.
"use strict";

(function () {
  const h = D.h;
  const SPANS = { "1h": 3600e3, "6h": 6 * 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3, "90d": 90 * 86400e3 };
  const AGGS = ["none", "avg", "min", "max", "sum", "count", "first", "last"];
  const GROUPS = ["auto", "none", "minute", "hour", "day", "week", "month"];
  const MAX_RAW_PAGES = 10;

  // autoGroup picks the finest window that keeps a series under ~1000 points.
  function autoGroup(span) {
    if (span <= 16 * 3600e3) return "minute";
    if (span <= 41 * 86400e3) return "hour";
    if (span <= 1000 * 86400e3) return "day";
    return "week";
  }

  function csvCell(v) {
    if (v === undefined || v === null) return "";
    let s = typeof v === "object" ? JSON.stringify(v) : String(v);
    // A text that a spreadsheet would run as a formula is kept as text.
    if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  // plan turns the page's state into a query: its body, range and window.
  // Every source selected sends no source list: the API reads that as all.
  function plan(id, st, everySource) {
    let from = st.from, to = st.to;
    if (st.range !== "custom") { to = Date.now(); from = to - SPANS[st.range]; }
    const filters = { startTime: new Date(from).toISOString(), endTime: new Date(to).toISOString() };
    if (!everySource) filters.dataSourceIds = st.sources;
    if (st.fields.length) filters.fields = st.fields;
    const body = { bucketId: id, filters };
    let group = null;
    if (st.agg !== "none") {
      body.aggregation = st.agg;
      group = st.group === "auto" ? autoGroup(to - from) : st.group === "none" ? null : st.group;
      if (group) body.groupBy = group;
    }
    return { body, from, to, group, fields: st.fields.join(",") };
  }

  // utcInput shows an instant in a datetime-local input, read as UTC.
  const utcInput = (ms) => new Date(ms).toISOString().slice(0, 16);

  D.routes.push({
    name: "explore", path: /^\/buckets\/([0-9a-f]{24})\/explore$/, title: "Explore", need: "read",
    async render(main, [id], q, view) {
      const st = {
        sources: [],
        fields: (q.get("fields") || "").split(",").filter(Boolean),
        range: q.get("range") in SPANS || q.get("range") === "custom" ? q.get("range") : "24h",
        from: q.get("from") ? Date.parse(q.get("from")) : Date.now() - 86400e3,
        to: q.get("to") ? Date.parse(q.get("to")) : Date.now(),
        agg: AGGS.includes(q.get("agg")) ? q.get("agg") : "avg",
        group: GROUPS.includes(q.get("group")) ? q.get("group") : "auto",
        refresh: Number(q.get("refresh")) || 0,
        view: q.get("view") === "table" ? "table" : "chart",
      };
      // The first chart sooner: with every source selected (the default)
      // the aggregated query needs no source list, so it runs while the
      // list loads.
      let early = null;
      if (!q.get("sources") && st.agg !== "none") {
        const p = plan(id, st, true);
        if (p.to > p.from) early = { plan: p, answer: D.api("POST", "/api/data/query", p.body).catch(() => null) };
      }
      const sources = await D.all("/api/buckets/" + id + "/sources");
      if (!view.alive) return;
      const nameOf = new Map(sources.map((s) => [s._id, s.name]));
      const wantSources = (q.get("sources") || "").split(",").filter((x) => nameOf.has(x));
      st.sources = wantSources.length ? wantSources : sources.map((s) => s._id);
      main.appendChild(h("h1", null, "Explore ", h("a", { href: "#/buckets/" + id }, "bucket")));
      if (sources.length === 0) {
        main.appendChild(h("p", null, "This bucket has no data sources yet."));
        return;
      }

      const sync = () => {
        const p = new URLSearchParams();
        p.set("sources", st.sources.join(","));
        if (st.fields.length) p.set("fields", st.fields.join(","));
        p.set("range", st.range);
        if (st.range === "custom") { p.set("from", new Date(st.from).toISOString()); p.set("to", new Date(st.to).toISOString()); }
        p.set("agg", st.agg); p.set("group", st.group);
        if (st.refresh) p.set("refresh", st.refresh);
        p.set("view", st.view);
        history.replaceState(null, "", "#/buckets/" + id + "/explore?" + p.toString());
      };

      // Controls.
      const fieldBox = h("div", { class: "row", id: "fields" });
      const fieldsOf = () => {
        const set = new Map();
        for (const s of sources) if (st.sources.includes(s._id)) for (const [f, d] of Object.entries(s.schema)) set.set(f, d);
        return set;
      };
      const drawFields = () => {
        const all = fieldsOf();
        st.fields = st.fields.filter((f) => all.has(f));
        D.replace(fieldBox, [...all.entries()].map(([f, d]) => h("label", { class: "inline" },
          h("input", { type: "checkbox", value: f, checked: st.fields.includes(f), dataset: { field: f }, onchange: (e) => {
            st.fields = e.target.checked ? [...st.fields, f] : st.fields.filter((x) => x !== f);
            run();
          } }), f + (d.unit ? " (" + d.unit + ")" : "") + (d.type !== "number" ? " · " + d.type : ""))));
      };
      const srcBox = h("div", { class: "row", id: "sources" }, sources.map((s) => h("label", { class: "inline" },
        h("input", { type: "checkbox", value: s._id, checked: st.sources.includes(s._id), dataset: { source: s._id }, onchange: (e) => {
          st.sources = e.target.checked ? [...st.sources, s._id] : st.sources.filter((x) => x !== s._id);
          drawFields();
          run();
        } }), s.name)));
      const fromIn = h("input", { type: "datetime-local", id: "custom-from", value: utcInput(st.from), step: 60 });
      const toIn = h("input", { type: "datetime-local", id: "custom-to", value: utcInput(st.to), step: 60 });
      const custom = h("div", { class: "row", id: "custom-range", hidden: st.range !== "custom" },
        D.field("From (UTC)", fromIn), D.field("To (UTC)", toIn),
        h("button", { type: "button", id: "apply-custom", onclick: () => {
          st.from = Date.parse(fromIn.value + "Z"); st.to = Date.parse(toIn.value + "Z"); run();
        } }, "Apply"));
      const groupSel = D.select({ id: "group", onchange: (e) => { st.group = e.target.value; run(); } },
        GROUPS.map((g) => [g, g === "auto" ? "auto (by range)" : g === "none" ? "whole range" : g]), st.group);
      let timer = null;
      const setRefresh = () => {
        if (timer) clearInterval(timer);
        timer = null;
        if (st.refresh) { timer = setInterval(() => { if (view.alive) run(); else clearInterval(timer); }, st.refresh * 1000); view.timers.push(timer); }
      };
      const viewTabs = h("div", { class: "tabs", role: "group", "aria-label": "Show as" },
        ["chart", "table"].map((v) => h("button", { type: "button", id: "show-" + v, "aria-pressed": String(st.view === v), onclick: () => {
          st.view = v;
          for (const b of viewTabs.children) b.setAttribute("aria-pressed", String(b.id === "show-" + v));
          show();
        } }, v === "chart" ? "Chart" : "Table")));
      const download = h("a", { id: "csv-download", class: "muted", href: "data:text/csv,", download: "query.csv" }, "Download CSV");
      main.appendChild(h("section", { class: "panel", id: "query-controls" },
        h("fieldset", null, h("legend", null, "Data sources"), srcBox),
        h("fieldset", null, h("legend", null, "Fields (none ticked: all)"), fieldBox),
        h("div", { class: "row" },
          D.field("Time range", D.select({ id: "range", onchange: (e) => {
            st.range = e.target.value;
            custom.hidden = st.range !== "custom";
            if (st.range !== "custom") run();
          } }, [["1h", "last hour"], ["6h", "last 6 hours"], ["24h", "last 24 hours"], ["7d", "last 7 days"], ["30d", "last 30 days"], ["90d", "last 90 days"], ["custom", "custom…"]], st.range)),
          D.field("Aggregation", D.select({ id: "agg", onchange: (e) => { st.agg = e.target.value; groupSel.disabled = st.agg === "none"; run(); } },
            AGGS.map((a) => [a, a === "none" ? "none (raw points)" : a]), st.agg)),
          D.field("Group by", groupSel),
          D.field("Auto-refresh", D.select({ id: "refresh", onchange: (e) => { st.refresh = Number(e.target.value); sync(); setRefresh(); } },
            [["0", "off"], ["5", "every 5 s"], ["30", "every 30 s"], ["60", "every minute"]], String(st.refresh))),
          h("button", { type: "button", id: "run", onclick: () => run() }, "Run")),
        custom));
      groupSel.disabled = st.agg === "none";
      const status = h("p", { class: "muted", id: "query-status", "aria-live": "polite" });
      const out = h("div", { id: "result", dataset: { runs: 0 } });
      main.appendChild(h("section", { class: "panel" }, h("div", { class: "row" }, viewTabs, download), status, out));
      drawFields();

      let result = null; // {rows, from, to, fields}
      let seq = 0;
      async function run() {
        sync();
        const mine = ++seq;
        let p = plan(id, st, st.sources.length === sources.length);
        let answer = null;
        // The query started before the source list, if it asked for this.
        if (early && !early.used && p.fields === early.plan.fields && p.body.filters.dataSourceIds === undefined) {
          early.used = true;
          answer = await early.answer;
          if (answer) p = early.plan;
        }
        const { body, from, to, group } = p;
        const filters = body.filters;
        if (!(to > from)) { status.textContent = "The range must end after it starts."; return; }
        if (st.sources.length === 0) { status.textContent = "Tick at least one data source."; return; }
        status.textContent = "Running…";
        const rows = [];
        let truncated = false;
        try {
          if (answer) {
            rows.push(...answer.data);
          } else if (st.agg === "none") {
            for (let page = 0; ; page++) {
              filters.limit = 1000; filters.offset = page * 1000;
              const r = await D.api("POST", "/api/data/query", body);
              rows.push(...r.data);
              if (!r.metadata.hasMore) break;
              if (page + 1 >= MAX_RAW_PAGES) { truncated = true; break; }
            }
          } else {
            rows.push(...(await D.api("POST", "/api/data/query", body)).data);
          }
        } catch (e) {
          if (mine === seq) status.textContent = "Query failed: " + (e.detail || e.message);
          return;
        }
        if (mine !== seq || !view.alive) return;
        const fields = new Set();
        for (const r of rows) for (const f of Object.keys(r.values)) fields.add(f);
        result = { rows, from, to, fields: [...fields] };
        status.textContent = rows.length + (st.agg === "none" ? " points" : " rows (" + st.agg + (group ? " per " + group : " over the range") + ")") +
          (truncated ? ", the first " + rows.length + " only: narrow the range or aggregate" : "") + ", " + D.fmtTime(new Date(from).toISOString()) + " to " + D.fmtTime(new Date(to).toISOString()) + ".";
        const csv = [["timestamp", "source", ...result.fields].map(csvCell).join(",")];
        for (const r of rows) csv.push([r.timestamp, nameOf.get(r.dataSourceId), ...result.fields.map((f) => r.values[f])].map(csvCell).join(","));
        download.href = "data:text/csv;charset=utf-8," + encodeURIComponent(csv.join("\n") + "\n");
        download.download = "dakkio-" + id + "-" + new Date(from).toISOString().slice(0, 16) + ".csv";
        download.dataset.rows = rows.length;
        show();
        out.dataset.runs = Number(out.dataset.runs) + 1;
      }

      function show() {
        if (!result) return;
        const { rows, from, to, fields } = result;
        if (st.view === "chart") {
          const series = new Map();
          for (const r of rows) {
            const t = Date.parse(r.timestamp);
            for (const f of fields) {
              const v = r.values[f];
              if (typeof v !== "number") continue;
              const key = nameOf.get(r.dataSourceId) + " · " + f;
              if (!series.has(key)) series.set(key, []);
              series.get(key).push([t, v]);
            }
          }
          const list = [...series.entries()].map(([name, points]) => ({ name, points: points.sort((a, b) => a[0] - b[0]) }));
          D.replace(out, D.lineChart({ id: "query-chart", label: "Query result", series: list, from, to }));
          if (!document.body.dataset.firstChartMs) document.body.dataset.firstChartMs = Math.round(performance.now());
        } else {
          const shown = rows.slice(0, 1000);
          D.replace(out, D.table([{ label: "Time" }, { label: "Source" }, ...fields.map((f) => ({ label: f, num: true })), ...(st.agg === "none" ? [] : [{ label: "count", num: true }])],
            shown.map((r) => [D.fmtTime(r.timestamp), nameOf.get(r.dataSourceId), ...fields.map((f) => typeof r.values[f] === "number" ? D.fmtNum(r.values[f]) : (r.values[f] === undefined ? "" : String(r.values[f]))),
              ...(st.agg === "none" ? [] : [D.fmtNum(r.count)])]), { id: "query-table", label: "Query result", empty: "No data in this range." }),
          rows.length > shown.length ? h("p", { class: "muted" }, "The first 1000 of " + rows.length + " rows; the CSV holds them all.") : null);
        }
      }

      setRefresh();
      await run();
    },
  });
})();
