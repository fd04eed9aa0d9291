// charts.js: line, bar and timeline charts drawn as SVG by this code. Each
// chart can be read by keyboard: focus it and move with the arrow keys
// (Home/End jump), the value under the cursor is read out beside it.
"use strict";

const M = { l: 60, r: 14, t: 12, b: 30 };
// W is the drawing width of the chart being drawn: the page's width, so that
// its text keeps its size on a phone as on a desktop.
let W = 900;
function measure() {
  const main = document.getElementById("main");
  W = Math.round(Math.max(300, Math.min(1300, (main ? main.clientWidth : 900) - 40)));
}
const MIN = 60e3, HOUR = 3600e3, DAY = 86400e3;
const TIME_STEPS = [MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY];

function niceStep(span, count) {
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

function yScale(min, max, h) {
  if (!isFinite(min)) { min = 0; max = 1; }
  if (min === max) { min -= Math.abs(min) * 0.1 || 1; max += Math.abs(max) * 0.1 || 1; }
  const step = niceStep(max - min, 5);
  const lo = Math.floor(min / step) * step, hi = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { lo, hi, ticks, y: (v) => M.t + (h - M.t - M.b) * (1 - (v - lo) / (hi - lo || 1)) };
}

function timeTicks(from, to) {
  const span = to - from;
  const step = TIME_STEPS.find((s) => span / s <= 8) || 365 * DAY;
  const ticks = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  const fmt = (t) => {
    const iso = new Date(t).toISOString();
    if (span <= 2 * DAY) return iso.slice(11, 16);
    if (span <= 400 * DAY) return iso.slice(5, 10);
    return iso.slice(0, 7);
  };
  return { ticks, fmt };
}

function fmtY(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toPrecision(3) + "G";
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + "M";
  if (a >= 1e4) return (v / 1e3).toPrecision(3) + "k";
  return String(Number(v.toPrecision(4)));
}

function axes(svg, ys, xs, h, from, to) {
  const x = (t) => M.l + (W - M.l - M.r) * ((t - from) / (to - from || 1));
  for (const v of ys.ticks) {
    svg.appendChild(D.s("line", { class: "gridline", x1: M.l, x2: W - M.r, y1: ys.y(v), y2: ys.y(v) }));
    svg.appendChild(D.s("text", { x: M.l - 6, y: ys.y(v) + 4, "text-anchor": "end" }, fmtY(v)));
  }
  for (const t of xs.ticks) {
    svg.appendChild(D.s("line", { class: "gridline", x1: x(t), x2: x(t), y1: M.t, y2: h - M.b }));
    svg.appendChild(D.s("text", { x: x(t), y: h - M.b + 16, "text-anchor": "middle" }, xs.fmt(t)));
  }
  svg.appendChild(D.s("line", { class: "axis", x1: M.l, x2: W - M.r, y1: h - M.b, y2: h - M.b }));
  return x;
}

// keyboard makes a chart readable by keyboard and pointer: stops is a
// sorted list of {t, text}; the cursor moves between them.
function cursorOn(svg, h, x, stops, readout) {
  if (stops.length === 0) return;
  const width = W;
  const line = D.s("line", { class: "cursor", y1: M.t, y2: h - M.b, visibility: "hidden" });
  svg.appendChild(line);
  let i = -1;
  const show = (k) => {
    i = Math.max(0, Math.min(stops.length - 1, k));
    const px = x(stops[i].t);
    line.setAttribute("x1", px); line.setAttribute("x2", px); line.setAttribute("visibility", "visible");
    readout.textContent = stops[i].text;
  };
  svg.addEventListener("keydown", (e) => {
    const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: stops.length - 1, PageUp: i - 10, PageDown: i + 10 };
    if (!(e.key in moves)) return;
    e.preventDefault();
    show(i < 0 && e.key === "ArrowLeft" ? stops.length - 1 : moves[e.key]);
  });
  svg.addEventListener("focus", () => { if (i < 0) show(stops.length - 1); });
  svg.addEventListener("pointermove", (e) => {
    const r = svg.getBoundingClientRect();
    const px = ((e.clientX - r.left) / r.width) * width;
    let best = 0, bestD = Infinity;
    stops.forEach((s, k) => { const d = Math.abs(x(s.t) - px); if (d < bestD) { bestD = d; best = k; } });
    show(best);
  });
}

function frame(label, h) {
  return D.s("svg", { class: "chart", viewBox: "0 0 " + W + " " + h, role: "img", tabindex: 0, "aria-label": label });
}

// lineChart draws series [{name, points: [[ms, value], ...]}] over [from, to].
D.lineChart = function (opts) {
  measure();
  const h = opts.height || 280;
  const series = opts.series.filter((s) => s.points.length > 0);
  let tmin = Infinity, tmax = -Infinity, min = Infinity, max = -Infinity, n = 0;
  for (const s of series) for (const [t, v] of s.points) {
    if (t < tmin) tmin = t;
    if (t > tmax) tmax = t;
    if (v < min) min = v;
    if (v > max) max = v;
    n++;
  }
  let from = opts.from !== undefined ? opts.from : tmin, to = opts.to !== undefined ? opts.to : tmax;
  if (!isFinite(from) || !isFinite(to)) { to = Date.now(); from = to - DAY; }
  const readout = D.h("div", { class: "readout", "aria-live": "polite" });
  const svg = frame(opts.label + ": " + n + " points in " + series.length + " series. Focus and use the arrow keys to read values.", h);
  svg.dataset.points = n;
  svg.dataset.series = series.length;
  const ys = yScale(min, max, h);
  const x = axes(svg, ys, timeTicks(from, to), h, from, to);
  series.forEach((s, k) => {
    let d = "";
    for (const [t, v] of s.points) d += (d ? "L" : "M") + x(t).toFixed(1) + " " + ys.y(v).toFixed(1);
    if (s.points.length === 1) d += "h2";
    svg.appendChild(D.s("path", { class: "line s" + (k % 6), d }));
  });
  // Cursor stops: every distinct time, reading each series' value there.
  const byTime = new Map();
  series.forEach((s) => s.points.forEach(([t, v]) => {
    if (!byTime.has(t)) byTime.set(t, []);
    byTime.get(t).push(s.name + " " + fmtY(v));
  }));
  const stops = [...byTime.keys()].sort((a, b) => a - b).map((t) => ({ t, text: D.fmtTime(new Date(t).toISOString()) + ": " + byTime.get(t).join(", ") }));
  cursorOn(svg, h, x, stops, readout);
  const legend = D.h("div", { class: "legend" }, series.map((s, k) => D.h("span", { class: "s" + (k % 6) }, s.name)));
  if (n === 0) readout.textContent = "No data in this range.";
  return D.h("figure", { class: "chartbox", id: opts.id }, svg, legend, readout);
};

// barChart draws bars [{t, v}] on a time axis, each `width` ms wide.
D.barChart = function (opts) {
  measure();
  const h = opts.height || 220;
  const bars = opts.bars;
  const width = opts.width || HOUR;
  let from = opts.from, to = opts.to;
  if (from === undefined) from = bars.length ? bars[0].t : Date.now() - DAY;
  if (to === undefined) to = bars.length ? bars[bars.length - 1].t + width : Date.now();
  const max = bars.reduce((m, b) => Math.max(m, b.v), 0);
  const readout = D.h("div", { class: "readout", "aria-live": "polite" });
  const svg = frame(opts.label + ": " + bars.length + " bars. Focus and use the arrow keys to read values.", h);
  svg.dataset.bars = bars.length;
  const ys = yScale(0, max || 1, h);
  const x = axes(svg, ys, timeTicks(from, to), h, from, to);
  const bw = Math.max(1, (x(from + width) - x(from)) * 0.85);
  for (const b of bars) {
    const y = ys.y(b.v);
    svg.appendChild(D.s("rect", { class: "bar", x: x(b.t), y, width: bw, height: Math.max(0, ys.y(0) - y) }));
  }
  cursorOn(svg, h, (t) => x(t) + bw / 2, bars.map((b) => ({ t: b.t, text: D.fmtTime(new Date(b.t).toISOString()) + ": " + D.fmtNum(b.v) + " " + (opts.unit || "") })), readout);
  if (bars.length === 0) readout.textContent = "Nothing in this period.";
  return D.h("figure", { class: "chartbox", id: opts.id }, svg, readout);
};

// hbars lists [{label, value}] as labelled horizontal bars (HTML meters).
D.hbars = function (items, opts) {
  const max = items.reduce((m, i) => Math.max(m, i.value), 0) || 1;
  return D.h("ul", { class: "plain", id: opts && opts.id }, items.map((i) =>
    D.h("li", null, D.h("div", { class: "row" }, D.h("span", null, i.label), D.h("span", { class: "muted" }, D.fmtNum(i.value) + (i.suffix || ""))),
      D.meter(i.value / max, i.label))));
};

// timeline draws events [{t, state, text}] as dots on a time line.
D.timeline = function (opts) {
  measure();
  const h = 90;
  const ev = opts.events.slice().sort((a, b) => a.t - b.t);
  let from = opts.from, to = opts.to;
  if (ev.length) { from = Math.min(from, ev[0].t); to = Math.max(to, ev[ev.length - 1].t); }
  const pad = (to - from) * 0.02 || MIN;
  from -= pad; to += pad;
  const readout = D.h("div", { class: "readout", "aria-live": "polite" });
  const svg = frame(opts.label + ": " + ev.length + " events. Focus and use the arrow keys to read them.", h);
  svg.dataset.events = ev.length;
  const xs = timeTicks(from, to);
  const x = (t) => M.l + (W - M.l - M.r) * ((t - from) / (to - from || 1));
  for (const t of xs.ticks) {
    svg.appendChild(D.s("line", { class: "gridline", x1: x(t), x2: x(t), y1: M.t, y2: h - M.b }));
    svg.appendChild(D.s("text", { x: x(t), y: h - M.b + 16, "text-anchor": "middle" }, xs.fmt(t)));
  }
  const mid = (h - M.b + M.t) / 2;
  svg.appendChild(D.s("line", { class: "axis", x1: M.l, x2: W - M.r, y1: mid, y2: mid }));
  for (const e of ev) svg.appendChild(D.s("circle", { class: "ev " + e.state, cx: x(e.t), cy: mid, r: 6 }, D.s("title", null, e.text)));
  cursorOn(svg, h, x, ev.map((e) => ({ t: e.t, text: e.text })), readout);
  if (ev.length === 0) readout.textContent = "No events yet.";
  return D.h("figure", { class: "chartbox", id: opts.id }, svg, readout);
};
