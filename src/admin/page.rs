//! `GET /`: a small self-contained status page (no external assets). It
//! fetches `/v1/regions` and `/v1/status` and redraws every two seconds,
//! so it shows what the API shows and nothing else: per endpoint its
//! health, source (config or registry), labels, override and drain state.

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
  #meta { color: #5b6475; margin-bottom: 1rem; }
  .region { background: #fff; border: 1px solid #d9dde5; border-radius: 6px; margin: 0 0 1rem; padding: .6rem .9rem; }
  .region h2 { font-size: 1.05rem; margin: 0 0 .4rem; display: flex; gap: .6rem; align-items: center; }
  .badge { font-size: .75rem; font-weight: 600; padding: .1rem .5rem; border-radius: 999px; text-transform: uppercase; }
  .healthy { background: #d8f3e0; color: #14532d; }
  .degraded { background: #fff1c2; color: #713f12; }
  .down { background: #fbd5d5; color: #7f1d1d; }
  .override { background: #e0e7ff; color: #1e3a8a; }
  table { border-collapse: collapse; width: 100%; margin: .3rem 0 .6rem; }
  th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #eef0f4; font-variant-numeric: tabular-nums; }
  th { color: #5b6475; font-weight: 500; }
  .ok { color: #15803d; } .bad { color: #b91c1c; } .pending { color: #6b7280; }
  #error { color: #b91c1c; }
</style>
</head>
<body>
<h1>meridian</h1>
<div id="meta">loading…</div>
<div id="error"></div>
<div id="regions"></div>
<script>
"use strict";
function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
}
function endpointRow(e) {
  const cls = e.state === "healthy" || e.state === "unmonitored" ? "ok" : (e.state === "unhealthy" ? "bad" : "pending");
  return `<tr><td>${esc(e.address)}</td><td class="${cls}" data-state="${esc(e.state)}">${esc(e.state)}</td>` +
    `<td>${esc(e.reason ?? "")}</td><td>${e.latency_ms == null ? "" : esc(e.latency_ms.toFixed(1) + " ms")}</td>` +
    `<td>${esc(e.last_check ?? "")}</td>` +
    `<td data-source="${esc(e.source)}">${esc(e.source)}${e.key ? " " + esc(e.key) : ""}</td>` +
    `<td>${esc(Object.entries(e.labels ?? {}).map(([k, v]) => k + "=" + v).join(" "))}</td>` +
    `<td class="${e.service_state === "in service" ? "ok" : "bad"}" data-service="${esc(e.service_state)}">${esc(e.service_state)}` +
    (e.override ? ` (forced ${esc(e.override.state ?? "")}${e.override.weight != null ? " weight " + esc(e.override.weight) : ""}` +
      `${e.override.until ? " until " + esc(e.override.until) : ""})` : "") + `</td></tr>`;
}
function poolBlock(p) {
  const weight = p.effective_weight === p.configured_weight ? `${p.effective_weight}` :
    `${p.effective_weight} (configured ${p.configured_weight})`;
  return `<div class="pool"><strong>${esc(p.service)}</strong> weight ${esc(weight)} · ` +
    `${p.available ? '<span class="ok">available</span>' : '<span class="bad">not available</span>'} · ${esc(p.reason)}` +
    (p.discover ? ` · registry ${esc(p.discover.prefix)}: ${esc(p.discover.endpoints)} endpoint(s)` +
      (p.discover.stale ? ' <span class="bad" data-registry="stale">stale</span>' : "") +
      (p.discover.held_removal != null ? ` <span class="bad">removal of ${esc(p.discover.held_removal)} held</span>` : "") : "") +
    `<table><tr><th>endpoint</th><th>health</th><th>reason</th><th>latency</th><th>last check</th>` +
    `<th>source</th><th>labels</th><th>in service</th></tr>` +
    p.endpoints.map(endpointRow).join("") + `</table></div>`;
}
function regionBlock(r) {
  const ov = r.override ? `<span class="badge override">forced ${esc(r.override.state)}` +
    (r.override.until ? ` until ${esc(r.override.until)}` : "") + `</span>` : "";
  return `<section class="region" data-region="${esc(r.name)}"><h2>${esc(r.name)} ` +
    `<span class="badge ${esc(r.state)}" data-state="${esc(r.state)}">${esc(r.state)}</span>${ov}</h2>` +
    (r.pools.length ? r.pools.map(poolBlock).join("") : "<em>no pools</em>") + `</section>`;
}
async function refresh() {
  try {
    const [status, regions] = await Promise.all([
      fetch("/v1/status").then(r => r.json()),
      fetch("/v1/regions").then(r => r.json()),
    ]);
    document.getElementById("meta").textContent =
      `version ${status.version} · generation ${status.generation} · up ${status.uptime_seconds}s · ` +
      `${status.zones} zone(s), ${status.services} service(s), ${status.regions} region(s) · updated ${new Date().toLocaleTimeString()}`;
    document.getElementById("regions").innerHTML = regions.regions.map(regionBlock).join("");
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "cannot reach the admin API: " + e;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"##;
