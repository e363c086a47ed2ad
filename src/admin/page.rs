//! `GET /`: the status page, an incident view (issue 18). Self-contained
//! (no external assets: it works offline) and built only on the API. It
//! listens to `GET /v1/events` (Server-Sent Events, issue 17) and fetches
//! `/v1/status`, `/v1/regions` and `/v1/overrides` when a change arrives;
//! while the stream is down it polls them every two seconds instead (with
//! the stream up, once a minute as a safety net). `/metrics` is sampled
//! every two seconds for the traffic shares and rates. It redraws without
//! a reload.
//!
//! From top to bottom: a summary line (what is down and why, what an
//! operator forced and until when); per service, a bar of the share of
//! answers per region over the last minutes, from the
//! `meridian_answers_total` counters sampled by the page; per region its
//! health state and, apart from it, any forced state, answers per second
//! with a sparkline, and each endpoint's monitor, probe target and last
//! check. Every time is shown in UTC.

/// The whole page.
pub(crate) const STATUS_PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meridian status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f7f8fa; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  h2.section { font-size: 1rem; margin: 1.2rem 0 .4rem; color: #374151; }
  #meta { color: #5b6475; margin-bottom: .8rem; }
  #summary { border-radius: 6px; padding: .6rem .9rem; margin-bottom: 1rem; border: 1px solid; }
  #summary.calm { background: #ecfdf3; border-color: #a7e3bd; }
  #summary.alert { background: #fff5f5; border-color: #f3b4b4; }
  #summary ul { margin: .2rem 0 0; padding-left: 1.2rem; }
  #summary .headline { font-weight: 600; }
  .card { background: #fff; border: 1px solid #d9dde5; border-radius: 6px; margin: 0 0 1rem; padding: .6rem .9rem; }
  .region h3 { font-size: 1.05rem; margin: 0 0 .4rem; display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; }
  .badge { font-size: .75rem; font-weight: 600; padding: .1rem .5rem; border-radius: 999px; }
  .healthy { background: #d8f3e0; color: #14532d; }
  .degraded { background: #fff1c2; color: #713f12; }
  .down { background: #fbd5d5; color: #7f1d1d; }
  .forced { background: repeating-linear-gradient(135deg, #e0e7ff 0 6px, #c7d2fe 6px 12px); color: #1e3a8a; border: 1px dashed #1e3a8a; }
  .rate { margin-left: auto; color: #374151; font-weight: 500; display: flex; gap: .4rem; align-items: center; }
  table { border-collapse: collapse; width: 100%; margin: .3rem 0 .6rem; }
  th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #eef0f4; font-variant-numeric: tabular-nums; }
  th { color: #5b6475; font-weight: 500; }
  .ok { color: #15803d; } .bad { color: #b91c1c; } .pending { color: #6b7280; } .muted { color: #6b7280; }
  .share { display: grid; grid-template-columns: 14rem 1fr; gap: .3rem .8rem; align-items: center; }
  .bar { display: flex; height: 1.3rem; border-radius: 4px; overflow: hidden; background: #eef0f4; }
  .bar span { display: block; height: 100%; color: #fff; font-size: .72rem; line-height: 1.3rem; padding-left: .3rem; white-space: nowrap; overflow: hidden; }
  .legend { font-size: .8rem; color: #374151; grid-column: 2; margin-top: -.2rem; }
  .legend i { display: inline-block; width: .7rem; height: .7rem; border-radius: 2px; margin: 0 .25rem 0 .6rem; vertical-align: -1px; }
  #error { color: #b91c1c; }
</style>
</head>
<body>
<h1>meridian</h1>
<div id="meta">loading…</div>
<div id="error"></div>
<div id="summary" class="calm" data-summary="">loading…</div>
<h2 class="section">Where answers go <span class="muted" id="window"></span></h2>
<div id="traffic" class="card share"></div>
<h2 class="section">Regions</h2>
<div id="regions"></div>
<script>
"use strict";
const WINDOW_MS = 5 * 60 * 1000;
const COLORS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777"];
const samples = []; // {t, answers: {service: {region: count}}}
let regionColors = {};

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
}
// Every time on the page in one zone: UTC.
function utc(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}
function until(u) { return u ? ` until ${utc(u)}` : " until removed"; }

// meridian_answers_total{service="...",region="..."} N
function parseAnswers(text) {
  const out = {};
  const re = /^meridian_answers_total\{service="((?:[^"\\]|\\.)*)",region="((?:[^"\\]|\\.)*)"\} (\d+)/;
  for (const line of text.split("\n")) {
    const m = re.exec(line);
    if (m) (out[m[1]] ??= {})[m[2]] = Number(m[3]);
  }
  return out;
}
function delta(a, b, service, region) {
  return Math.max(0, ((b.answers[service] ?? {})[region] ?? 0) - ((a.answers[service] ?? {})[region] ?? 0));
}

function summary(regions, overrides) {
  const down = [], forced = [];
  for (const r of regions.regions) {
    if (r.override) forced.push(`region ${r.name} forced ${r.override.state}${until(r.override.until)}`);
    if (r.state === "healthy") continue;
    let why;
    if (r.override && r.override.state === "down") why = "forced down by an operator (drained)";
    else {
      const reasons = [];
      for (const p of r.pools) {
        if (p.available && r.state !== "degraded") continue;
        const bad = p.endpoints.filter(e => e.state === "unhealthy" || e.service_state !== "in service");
        const detail = bad.slice(0, 2).map(e => `${e.address}${e.monitor ? " (" + e.monitor + ")" : ""}: ` +
          (e.state === "unhealthy" ? (e.reason ?? "unhealthy") : e.service_state)).join("; ");
        reasons.push(`${p.service} ${p.available ? "degraded" : "not available"}` +
          (p.available ? "" : ` (${p.reason})`) + (detail ? ` — ${detail}` : ""));
      }
      why = reasons.slice(0, 3).join("; ") || "no pool available";
    }
    down.push({name: r.name, state: r.state, why});
  }
  for (const [service, pools] of Object.entries(overrides.weights ?? {}))
    for (const [region, w] of Object.entries(pools))
      forced.push(`weight of ${service} in ${region} set to ${w.weight}${until(w.until)}`);
  for (const [service, pools] of Object.entries(overrides.spills ?? {}))
    for (const [region, s] of Object.entries(pools))
      forced.push(`${s.percent}% of ${service}'s ${region} clients spilled on${until(s.until)}`);
  for (const [addr, o] of Object.entries(overrides.endpoints ?? {}))
    forced.push(`endpoint ${addr} forced ${[o.state, o.weight != null ? "weight " + o.weight : null].filter(Boolean).join(", ")}${until(o.until)}`);
  const el = document.getElementById("summary");
  const calm = down.length === 0 && forced.length === 0;
  el.className = down.length ? "alert" : "calm";
  const headline = calm ? "All regions healthy; no overrides." :
    (down.length ? `${down.length} region(s) not healthy: ` + down.map(d => `${d.name} ${d.state}`).join(", ") + "." :
      "All regions healthy.") + (forced.length ? ` ${forced.length} override(s) in force.` : "");
  el.dataset.summary = headline;
  el.innerHTML = `<div class="headline">${esc(headline)}</div>` + (calm ? "" : "<ul>" +
    down.map(d => `<li data-down="${esc(d.name)}"><strong>${esc(d.name)} is ${esc(d.state)}</strong>: ${esc(d.why)}</li>`).join("") +
    forced.map(f => `<li data-forced>${esc(f)}</li>`).join("") + "</ul>");
}

function shareBars(services, regionNames) {
  const first = samples[0], last = samples[samples.length - 1];
  const secs = samples.length > 1 ? Math.round((last.t - first.t) / 1000) : 0;
  document.getElementById("window").textContent = secs ? `(share of answers, last ${secs} s)` : "(collecting…)";
  const rows = services.map(service => {
    const counts = regionNames.map(r => [r, samples.length > 1 ? delta(first, last, service, r) : 0]).filter(([, n]) => n > 0);
    const total = counts.reduce((a, [, n]) => a + n, 0);
    const bar = total === 0 ? `<div class="bar" data-share-service="${esc(service)}"><span class="muted" style="color:#6b7280">no answers in the window</span></div>` :
      `<div class="bar" data-share-service="${esc(service)}">` + counts.map(([r, n]) => {
        const pct = 100 * n / total;
        return `<span data-share-region="${esc(r)}" data-share="${pct.toFixed(1)}" style="width:${pct}%;background:${regionColors[r]}" ` +
          `title="${esc(r)}: ${pct.toFixed(1)}% (${n})">${pct >= 8 ? esc(r) + " " + pct.toFixed(0) + "%" : ""}</span>`;
      }).join("") + `</div>`;
    const legend = total === 0 ? "" : `<div class="legend">` + counts.map(([r, n]) =>
      `<i style="background:${regionColors[r]}"></i>${esc(r)} ${(100 * n / total).toFixed(1)}%`).join("") + `</div>`;
    return `<div><strong>${esc(service)}</strong></div>${bar}${legend}`;
  });
  document.getElementById("traffic").innerHTML = rows.join("") || "<em>no services</em>";
}

// Answers per second of a region between consecutive samples.
function rates(region) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1], b = samples[i];
    let n = 0;
    for (const service of Object.keys(b.answers)) n += delta(a, b, service, region);
    out.push(n / Math.max(0.001, (b.t - a.t) / 1000));
  }
  return out;
}
function sparkline(values, color) {
  const w = 120, h = 24;
  if (values.length < 2) return `<svg width="${w}" height="${h}" data-sparkline="0"></svg>`;
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i * w / (values.length - 1)).toFixed(1)},${(h - 2 - v * (h - 4) / max).toFixed(1)}`).join(" ");
  return `<svg width="${w}" height="${h}" data-sparkline="${values.length}" aria-label="answers per second">` +
    `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts}"/></svg>`;
}

function endpointRow(e) {
  const cls = e.state === "healthy" || e.state === "unmonitored" ? "ok" : (e.state === "unhealthy" ? "bad" : "pending");
  return `<tr><td>${esc(e.address)}</td>` +
    `<td class="${cls}" data-state="${esc(e.state)}">${esc(e.state)}</td>` +
    `<td data-monitor="${esc(e.monitor ?? "")}">${esc(e.monitor ?? "—")}</td><td data-probe="${esc(e.probe ?? "")}">${esc(e.probe ?? "—")}</td>` +
    `<td>${esc(e.reason ?? "")}</td><td>${e.latency_ms == null ? "" : esc(e.latency_ms.toFixed(1) + " ms")}</td>` +
    `<td>${esc(utc(e.last_check))}</td>` +
    `<td data-source="${esc(e.source)}">${esc(e.source)}${e.key ? " " + esc(e.key) : ""}</td>` +
    `<td>${esc(Object.entries(e.labels ?? {}).map(([k, v]) => k + "=" + v).join(" "))}</td>` +
    `<td class="${e.service_state === "in service" ? "ok" : "bad"}" data-service="${esc(e.service_state)}">${esc(e.service_state)}` +
    (e.override ? ` <span class="badge forced">forced ${esc(e.override.state ?? "")}${e.override.weight != null ? " weight " + esc(e.override.weight) : ""}` +
      `${esc(until(e.override.until))}</span>` : "") + `</td></tr>`;
}
function poolBlock(p) {
  const weight = p.effective_weight === p.configured_weight ? `${p.effective_weight}` :
    `${p.effective_weight} (configured ${p.configured_weight})`;
  const wo = p.weight_override ? ` <span class="badge forced" data-forced="weight">weight forced to ${esc(p.weight_override.weight)}${esc(until(p.weight_override.until))}</span>` : "";
  return `<div class="pool"><strong>${esc(p.service)}</strong> weight ${esc(weight)}${wo} · ` +
    `${p.available ? '<span class="ok">available</span>' : '<span class="bad">not available</span>'} · ${esc(p.reason)}` +
    (p.discover ? ` · registry ${esc(p.discover.prefix)}: ${esc(p.discover.endpoints)} endpoint(s)` +
      (p.discover.stale ? ' <span class="bad" data-registry="stale">stale</span>' : "") +
      (p.discover.held_removal != null ? ` <span class="bad">removal of ${esc(p.discover.held_removal)} held</span>` : "") : "") +
    `<table><tr><th>endpoint</th><th>health</th><th>monitor</th><th>probe target</th><th>reason</th><th>latency</th><th>last check</th>` +
    `<th>source</th><th>labels</th><th>in service</th></tr>` +
    p.endpoints.map(endpointRow).join("") + `</table></div>`;
}
function regionBlock(r) {
  // Health and forced states apart: a drained region shows its health
  // badge and, striped beside it, what the operator forced.
  const ov = r.override ? `<span class="badge forced" data-forced="${esc(r.override.state)}">forced ${esc(r.override.state)} by an operator${esc(until(r.override.until))}</span>` : "";
  const series = rates(r.name);
  const now = series.length ? series[series.length - 1] : null;
  return `<section class="card region" data-region="${esc(r.name)}"><h3>${esc(r.name)} ` +
    `<span class="badge ${esc(r.state)}" data-state="${esc(r.state)}">${esc(r.state)}</span>${ov}` +
    `<span class="rate" data-rate="${now == null ? "" : now.toFixed(2)}">${now == null ? "…" : now.toFixed(1) + " answers/s"} ${sparkline(series, regionColors[r.name])}</span></h3>` +
    (r.pools.length ? r.pools.map(poolBlock).join("") : "<em>no pools</em>") + `</section>`;
}

// What the page last fetched: the state (status, regions, overrides) and
// when, drawn together with the traffic samples.
let state = null;
let stateSeq = 0, appliedSeq = 0;

function render() {
  if (!state) return;
  const {status, regions, overrides, at} = state;
  const regionNames = regions.regions.map(r => r.name);
  regionNames.forEach((r, i) => regionColors[r] ??= COLORS[i % COLORS.length]);
  const services = [...new Set(regions.regions.flatMap(r => r.pools.map(p => p.service)))];
  const meta = document.getElementById("meta");
  meta.textContent =
    `version ${status.version} · generation ${status.generation} · up ${status.uptime_seconds}s · ` +
    `${status.zones} zone(s), ${status.services} service(s), ${status.regions} region(s) · ` +
    (live ? "live (change events) · " : "polling every 2 s · ") +
    `updated ${utc(new Date(at).toISOString())} (all times UTC)`;
  summary(regions, overrides);
  shareBars(services, regionNames);
  document.getElementById("regions").innerHTML = regions.regions.map(regionBlock).join("");
}

// The state: fetched when a change event arrives (debounced), and polled,
// every POLL_MS without the stream, every POLL_LIVE_MS (a safety net) with it.
async function refreshState() {
  const seq = ++stateSeq;
  try {
    const [status, regions, overrides] = await Promise.all([
      fetch("/v1/status").then(r => r.json()),
      fetch("/v1/regions").then(r => r.json()),
      fetch("/v1/overrides").then(r => r.json()),
    ]);
    // An older reply that arrives late never overwrites a newer one.
    if (seq < appliedSeq) return;
    appliedSeq = seq;
    state = {status, regions, overrides, at: Date.now()};
    render();
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "cannot reach the admin API: " + e;
  }
}

// Traffic (answers per region) is not an event: sampled from /metrics
// every SAMPLE_MS whatever the stream does.
async function sample() {
  try {
    const metrics = await fetch("/metrics").then(r => r.text());
    const now = Date.now();
    samples.push({t: now, answers: parseAnswers(metrics)});
    while (samples.length > 2 && now - samples[1].t >= WINDOW_MS) samples.shift();
    render();
  } catch (e) {
    document.getElementById("error").textContent = "cannot reach the admin API: " + e;
  }
}

const SAMPLE_MS = 2000, POLL_MS = 2000, POLL_LIVE_MS = 60000, RECONNECT_MS = 5000;
const KINDS = ["endpoint_health", "pool_availability", "region_state", "override_set", "override_lapsed", "reload"];
let live = false, pollTimer = null, soonTimer = null, events = 0, polls = 0;

function schedulePoll() {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(() => {
    document.body.dataset.polls = String(++polls);
    refreshState();
    schedulePoll();
  }, live ? POLL_LIVE_MS : POLL_MS);
}
function setLive(on) {
  if (live === on) return;
  live = on;
  document.body.dataset.updates = on ? "stream" : "poll";
  // Events may have been missed while switching: fetch the state now.
  refreshState();
  schedulePoll();
}
function soon() {
  if (soonTimer) return;
  soonTimer = setTimeout(() => { soonTimer = null; refreshState(); }, 100);
}
function onEvent() {
  document.body.dataset.events = String(++events);
  soon();
}
// GET /v1/events (Server-Sent Events): the page redraws on each change.
// When the stream drops, the page polls until it is back (EventSource
// reconnects by itself; a stream refused outright is retried here).
function connect() {
  if (!window.EventSource) return;
  const es = new EventSource("/v1/events");
  es.onopen = () => setLive(true);
  es.onmessage = onEvent;
  for (const k of KINDS) es.addEventListener(k, onEvent);
  es.onerror = () => {
    setLive(false);
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, RECONNECT_MS);
  };
}

document.body.dataset.updates = "poll";
document.body.dataset.events = "0";
document.body.dataset.polls = "0";
refreshState();
sample();
schedulePoll();
setInterval(sample, SAMPLE_MS);
connect();
</script>
</body>
</html>
"##;
