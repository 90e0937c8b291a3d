// The dashboard's pages: they read the JSON API and draw with SVG. Nothing is loaded from
// elsewhere, and API text is only ever set as text, never as HTML.
"use strict";

const palette = ["#2d6cdf", "#e8710a", "#1e8e3e", "#d93025", "#9334e6", "#12a4af", "#f9ab00", "#5f6368"];
const svgNS = "http://www.w3.org/2000/svg";

const fmtInt = (n) => Math.round(n).toLocaleString("en-US");
const fmtHours = (h) => h.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const fmtRate = (r) => (100 * r).toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + "%";

function $(id) { return document.getElementById(id); }

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

async function getJSON(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

// params is the page's range from its address; empty values let the API choose.
function params(keys) {
  const q = new URLSearchParams(location.search);
  const out = new URLSearchParams();
  for (const k of keys) if (q.get(k)) out.set(k, q.get(k));
  return out;
}

function bindRange(rep, keys) {
  $("from").value = rep.from;
  $("to").value = rep.to;
  if ($("grain") && rep.grain) $("grain").value = rep.grain;
  $("range").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const k of keys) if ($(k) && $(k).value) q.set(k, $(k).value);
    location.search = q.toString();
  });
}

async function freshness() {
  const f = await getJSON("/api/freshness");
  const p = $("freshness");
  if (!f.data_through) {
    p.textContent = "No data yet: the first run has not finished.";
    p.classList.add("stale");
    return;
  }
  const run = new Date(f.last_run);
  const at = run.toISOString().slice(0, 10) + " " + run.toISOString().slice(11, 16) + " UTC";
  // The days are the account's stats days: final once they have ended in its zone.
  p.textContent = "Data through " + f.data_through + " (final; days of " + f.zone + "), last run " + at;
  // A daily pipeline: data more than two days old means runs are not landing.
  const age = (Date.now() - Date.parse(f.data_through + "T00:00:00Z")) / 86400000;
  if (age > 2.5) p.classList.add("stale");
}

const fmtTick = (v) => v.toLocaleString("en-US", { maximumFractionDigits: 2 });

// Each series is told apart without colour too: its own dash pattern, in the legend as on the
// line, and its name at the line's end.
const dashes = ["", "9 4", "2 3", "12 4 2 4", "5 5", "1 5", "14 3 3 3 3 3"];

// lineChart draws one line per series over shared labels, with a y axis and a legend; format
// writes a point's value in its tooltip, tick the axis (default: up to two decimals).
function lineChart(host, labels, series, format, tick = fmtTick) {
  host.replaceChildren();
  // One unit of the drawing is one pixel of its box, so text keeps its size in narrow charts.
  const named = series.length > 1;
  const W = Math.max(320, Math.round(host.clientWidth - 16)), H = 240, L = 56, R = named ? 104 : 12, T = 12, B = 28;
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values));
  const x = (i) => L + (labels.length <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (labels.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const title = host.previousElementSibling ? host.previousElementSibling.textContent : "chart";
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: ${series.map((s) => s.name).join(", ")}` });
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    chart.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    const t = svg("text", { class: "tick", x: L - 6, y: y(v) + 4, "text-anchor": "end" });
    t.textContent = tick(v);
    chart.append(t);
  }
  const every = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((lab, i) => {
    if (i % every) return;
    const t = svg("text", { class: "tick", x: x(i), y: H - 8, "text-anchor": "middle" });
    t.textContent = lab.slice(5);
    chart.append(t);
  });
  const ends = [];
  series.forEach((s, n) => {
    const color = palette[n % palette.length];
    const points = s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ");
    chart.append(svg("polyline", { points, fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": dashes[n % dashes.length], "data-series": s.name }));
    s.values.forEach((v, i) => {
      const dot = svg("circle", { cx: x(i), cy: y(v), r: 2.5, fill: color });
      const tip = svg("title");
      tip.textContent = `${s.name} ${labels[i]}: ${format(v)}`;
      dot.append(tip);
      chart.append(dot);
    });
    if (named && s.values.length) ends.push({ name: s.name, y: y(s.values[s.values.length - 1]) + 4 });
  });
  // The names at the lines' ends, moved apart where lines end close together.
  ends.sort((a, b) => a.y - b.y);
  ends.forEach((e, i) => {
    if (i > 0) e.y = Math.max(e.y, ends[i - 1].y + 12);
    const t = svg("text", { class: "series-label", x: W - R + 6, y: e.y });
    t.textContent = e.name;
    chart.append(t);
  });
  host.append(chart);
  const legend = el("div", { class: "legend" });
  series.forEach((s, n) => {
    const key = svg("svg", { width: 28, height: 10, "aria-hidden": "true" });
    key.append(svg("line", { x1: 1, x2: 27, y1: 5, y2: 5, stroke: palette[n % palette.length], "stroke-width": 2, "stroke-dasharray": dashes[n % dashes.length] }));
    const item = el("span", {});
    item.append(key, document.createTextNode(s.name));
    legend.append(item);
  });
  host.append(legend);
}

function row(cells, numeric) {
  const tr = el("tr");
  cells.forEach((c, i) => {
    const td = el("td", numeric.includes(i) ? { class: "num" } : {});
    if (c instanceof Node) td.append(c); else td.textContent = c;
    tr.append(td);
  });
  return tr;
}

// download points a link at the CSV of what the page shows: the report's own range, so the
// file holds the rows on screen whether or not the address names a range.
function download(id, path, rep, extra) {
  const q = new URLSearchParams({ from: rep.from, to: rep.to, ...extra, format: "csv" });
  $(id).setAttribute("href", path + "?" + q.toString());
}

function totals(t) {
  $("total-plays").textContent = fmtInt(t.plays);
  $("total-hours").textContent = fmtHours(t.hours_watched);
  $("total-rate").textContent = fmtRate(t.play_rate);
}

async function overview() {
  const q = params(["from", "to", "grain"]);
  const [channels, top] = await Promise.all([getJSON("/api/channels?" + q), getJSON("/api/top-media?" + params(["from", "to"]))]);
  bindRange(channels, ["from", "to", "grain"]);
  download("csv-channels", "/api/channels", channels, { grain: channels.grain });
  download("csv-top-media", "/api/top-media", top, {});
  totals(channels.total);
  const labels = channels.channels.length ? channels.channels[0].periods.map((p) => p.start) : [];
  const lines = (f) => channels.channels.map((c) => ({ name: c.channel, values: c.periods.map(f) }));
  lineChart($("chart-plays"), labels, lines((p) => p.plays), fmtInt);
  lineChart($("chart-hours"), labels, lines((p) => p.hours_watched), fmtHours);
  lineChart($("chart-rate"), labels, lines((p) => p.play_rate), fmtRate, fmtRate);
  const ch = $("channels").tBodies[0];
  ch.replaceChildren(...channels.channels.map((c) =>
    row([c.channel, fmtInt(c.total.plays), fmtHours(c.total.hours_watched), fmtRate(c.total.play_rate)], [1, 2, 3])));
  const tb = $("top-media").tBodies[0];
  const range = params(["from", "to"]).toString();
  tb.replaceChildren(...top.media.map((m, i) => {
    const link = el("a", { href: "/media/" + encodeURIComponent(m.media_id) + (range ? "?" + range : "") }, m.title || m.media_id);
    return row([String(i + 1), link, m.channel, fmtInt(m.plays), fmtHours(m.hours_watched), fmtRate(m.play_rate)], [0, 3, 4, 5]);
  }));
}

async function mediaPage() {
  const id = decodeURIComponent(location.pathname.split("/").pop());
  const rep = await getJSON("/api/media/" + encodeURIComponent(id) + "?" + params(["from", "to"]));
  bindRange(rep, ["from", "to"]);
  const path = "/api/media/" + encodeURIComponent(id);
  download("csv-days", path, rep, { table: "days" });
  download("csv-countries", path, rep, { table: "countries" });
  document.title = (rep.media.title || id) + " · Video analytics";
  $("media-title").textContent = rep.media.title || id;
  $("media-channel").textContent = rep.media.channel;
  $("media-project").textContent = rep.media.project || "no project";
  $("media-url").setAttribute("href", rep.media.url);
  totals(rep.total);
  const labels = rep.days.map((d) => d.start);
  lineChart($("chart-plays"), labels, [{ name: "plays", values: rep.days.map((d) => d.plays) }], fmtInt);
  lineChart($("chart-hours"), labels, [{ name: "hours watched", values: rep.days.map((d) => d.hours_watched) }], fmtHours);
  const most = Math.max(1, ...rep.countries.map((c) => c.plays));
  $("chart-countries").replaceChildren(...rep.countries.slice(0, 10).map((c) => {
    const b = el("div", { class: "bar" });
    const fill = el("div");
    fill.style.width = (100 * c.plays / most) + "%";
    b.append(el("span", {}, c.country), fill, el("span", { class: "n" }, fmtInt(c.plays)));
    return b;
  }));
  $("countries").tBodies[0].replaceChildren(...rep.countries.map((c) => row([c.country, fmtInt(c.plays), fmtInt(c.visitors)], [1, 2])));
}

async function main() {
  try {
    await Promise.all([freshness(), document.body.dataset.page === "media" ? mediaPage() : overview()]);
    document.body.dataset.ready = "1";
  } catch (err) {
    $("error").textContent = "Could not load the numbers: " + err.message;
    $("error").hidden = false;
    document.body.dataset.ready = "error";
  }
}

main();
