// dom.js: building the page without HTML strings (Trusted Types forbid
// them), formatting, and the shared dialog and toasts.
"use strict";
const D = (window.D = {});

// h builds an element: h("button", {class: "x", onclick: fn}, "text", child).
// Attributes named on* take functions; `dataset` an object; `value`,
// `checked`, `disabled`, `hidden`, `selected` are set as properties.
D.h = function (tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
};

const SVG = "http://www.w3.org/2000/svg";
D.s = function (tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
};

const props = new Set(["value", "checked", "disabled", "hidden", "selected", "multiple"]);

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false && !props.has(k)) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value" && "defaultValue" in el) el.defaultValue = el.value = v; // kept by form.reset()
    else if (k === "checked") el.defaultChecked = el.checked = v; // kept by form.reset()
    else if (props.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

D.clear = function (el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
};

// focusPath names the focused control inside el so that it can be found
// again once el is redrawn: by id, or by its data-act within its table row.
D.focusPath = function (el) {
  const a = document.activeElement;
  if (!a || a === document.body || !el.contains(a)) return null;
  if (a.id) return "#" + CSS.escape(a.id);
  const act = a.getAttribute("data-act"), row = a.closest("tr");
  const first = row && Object.entries(row.dataset)[0];
  if (act && first) return "tr[data-" + first[0] + '="' + CSS.escape(first[1]) + '"] [data-act="' + CSS.escape(act) + '"]';
  return null;
};

// refocus puts focus back on what focusPath named, after a redraw, so that
// a keyboard user stays where they were (on main if it is gone).
D.refocus = function (el, path) {
  if (!path || (document.activeElement && document.activeElement !== document.body)) return;
  const target = el.querySelector(path);
  (target || document.getElementById("main")).focus();
};

D.replace = function (el, ...children) {
  const path = D.focusPath(el);
  D.clear(el);
  append(el, children);
  D.refocus(el, path);
  return el;
};

D.fmtTime = function (iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/:00Z$/, "Z");
};

D.fmtAgo = function (iso) {
  if (!iso) return "never";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
};

D.fmtNum = function (n) {
  if (n === null || n === undefined) return "—";
  if (typeof n !== "number") return String(n);
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  return n.toLocaleString("en-US", { maximumFractionDigits: 3 });
};

D.fmtBytes = function (n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
};

D.table = function (columns, rows, opts) {
  // columns: [{label, num?}], rows: arrays of cells (strings or nodes)
  opts = opts || {};
  return D.h("div", { class: "tablewrap" },
    D.h("table", { id: opts.id, "aria-label": opts.label },
      D.h("thead", null, D.h("tr", null, columns.map((c) => D.h("th", { class: c.num ? "num" : null, scope: "col" }, c.label)))),
      D.h("tbody", null, rows.length === 0
        ? D.h("tr", null, D.h("td", { colspan: columns.length, class: "muted" }, opts.empty || "Nothing here yet."))
        : rows.map((r) => D.h("tr", r.attrs || null, (r.cells || r).map((cell, i) =>
          D.h("td", { class: columns[i] && columns[i].num ? "num" : (columns[i] && columns[i].actions ? "actions" : null) }, cell)))))));
};

D.card = function (label, value, id) {
  return D.h("div", { class: "card", id }, D.h("div", { class: "value" }, value), D.h("div", { class: "label" }, label));
};

D.badge = function (text, kind) {
  return D.h("span", { class: "badge " + (kind || "") }, text);
};

// toast shows a short message; errors stay longer.
D.toast = function (msg, isError) {
  const box = document.getElementById("toast");
  const el = D.h("div", { class: isError ? "err" : null }, msg);
  box.appendChild(el);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => el.remove(), isError ? 9000 : 4000);
};

// meter is a horizontal bar filled to fraction (0..1); a quota meter turns
// red from 90%.
D.meter = function (fraction, label, quota) {
  const fill = D.h("div");
  fill.style.width = Math.max(0, Math.min(1, fraction)) * 100 + "%";
  return D.h("div", { class: "meter" + (quota && fraction >= 0.9 ? " high" : ""), role: "meter", "aria-label": label,
    "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(fraction * 100) }, fill);
};

// ask opens the shared dialog with body nodes; it resolves true when the
// user confirms. onOK may return false (or a promise of it) to keep the
// dialog open, e.g. on a validation error shown in the body.
D.ask = function (title, body, okLabel, opts) {
  opts = opts || {};
  const dlg = document.getElementById("dialog");
  const form = document.getElementById("dialog-form");
  const ok = document.getElementById("dialog-ok");
  const cancel = document.getElementById("dialog-cancel");
  D.replace(document.getElementById("dialog-title"), title);
  D.replace(document.getElementById("dialog-body"), body);
  ok.textContent = okLabel || "OK";
  ok.className = opts.danger ? "danger" : "";
  ok.disabled = false;
  return new Promise((resolve) => {
    const done = (v) => {
      form.onsubmit = null; cancel.onclick = null; dlg.oncancel = null;
      dlg.close();
      resolve(v);
    };
    form.onsubmit = async (e) => {
      e.preventDefault();
      if (opts.onOK) {
        ok.disabled = true;
        let keep = false;
        try { keep = (await opts.onOK()) === false; } finally { ok.disabled = false; }
        if (keep) return;
      }
      done(true);
    };
    cancel.onclick = () => done(false);
    dlg.oncancel = (e) => { e.preventDefault(); done(false); };
    dlg.showModal();
    const first = dlg.querySelector("#dialog-body input, #dialog-body select, #dialog-body textarea");
    (first || ok).focus();
  });
};

// copyField is a read-only field holding a secret shown once, with a copy button.
D.secretBox = function (value, what) {
  const input = D.h("input", { readonly: true, value, "aria-label": what, id: "secret-value" });
  const status = D.h("span", { class: "muted", id: "copy-status", "aria-live": "polite" });
  const copy = D.h("button", {
    type: "button", id: "copy-secret", onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(value);
      } catch (e) {
        // Without clipboard permission (an insecure origin, a headless
        // browser) the selected text is copied the old way.
        document.execCommand("copy");
      }
      status.textContent = "Copied";
    },
  }, "Copy");
  return D.h("div", { class: "secret" },
    D.h("strong", null, what + " (shown once, keep it now):"), input, copy, status);
};

D.field = function (label, control) {
  return D.h("label", null, label, control);
};

D.select = function (attrs, options, selected) {
  return D.h("select", attrs, options.map((o) => {
    const [v, text] = Array.isArray(o) ? o : [o, o];
    return D.h("option", { value: v, selected: v === selected }, text);
  }));
};
