// tierlab dashboard: one server-sent event a second carries the lab's status, the charts'
// points and the event stream; the page redraws what changed. Buttons POST actions to
// api/action. No framework, no build step: this file is served as it is.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const TIERS = [
  ["public", "Public subnet"],
  ["private", "Private app subnet"],
  ["isolated", "Private DB subnet"],
];
const CLASS_COLORS = ["#1d8102", "#0073bb", "#b7791f", "#d13212"];

// What the page last drew, and when an action was last sent (tests and the README's
// measurement read `window.tierlab`).
const state = { frame: null, drawn: {}, frames: 0 };
window.tierlab = state;

// --- DOM helpers -------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS(SVG, tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
const svg = (tag, attrs, ...children) => el("svg:" + tag, attrs, ...children);

// Replaces the children of `id` with `build()` only when `key` changed: buttons and inputs
// are not redrawn under the pointer every second.
function redraw(id, key, build) {
  if (state.drawn[id] === key) return;
  state.drawn[id] = key;
  const node = document.getElementById(id);
  node.replaceChildren(...[].concat(build()));
}

function stateClass(s) {
  return "state-" + String(s || "").split(" ")[0];
}

function age(rfc3339) {
  const ms = Date.now() - Date.parse(rfc3339);
  if (!isFinite(ms) || ms < 0) return "-";
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h " + String(Math.floor(s / 60) % 60).padStart(2, "0") + "m";
}

function short(id) {
  return String(id || "").slice(0, 8);
}

// --- Actions ------------------------------------------------------------------------------

async function act(action, button) {
  const result = document.getElementById("action-result");
  if (button) button.disabled = true;
  state.lastAction = { action, sentAt: performance.now() };
  result.className = "";
  result.textContent = "…";
  try {
    const answer = await fetch("api/action", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(action),
      credentials: "same-origin",
    });
    const body = await answer.json().catch(() => ({}));
    state.lastAction.answeredAt = performance.now();
    if (answer.ok) {
      result.textContent = body.message || "done";
    } else {
      result.className = "error";
      result.textContent = body.error || "HTTP " + answer.status;
    }
  } catch (e) {
    result.className = "error";
    result.textContent = "the lab did not answer: " + e;
  } finally {
    if (button) button.disabled = false;
  }
}

// Chaos of `tierlab chaos`, as its JSON (`POST /chaos` takes the same).
function chaos(kind, args, button) {
  return act({ kind: "chaos", chaos: Object.assign({ kind }, args) }, button);
}

// The faults panel's buttons: each carries its fault; the path and duration come from the
// panel's selects at click time.
function faultOf(d) {
  const fault = JSON.parse(d.chaos);
  const path = document.getElementById("fault-path");
  const lasting = document.getElementById("fault-for");
  if ("path" in fault && path) fault.path = path.value;
  // Only these kinds take a duration (`--for`); the others happen once or last until undone.
  if (lasting && lasting.value !== "until-cleared" && ["latency", "reset", "bandwidth", "pause-task", "http-errors"].includes(fault.kind)) {
    fault.for = lasting.value;
  }
  return fault;
}

// One click handler for every button with data-action: buttons are redrawn, the handler stays.
document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-action]");
  if (!b) return;
  const d = b.dataset;
  switch (d.action) {
    case "stop-task":
    case "kill-task":
      return act({ kind: d.action, service: d.service, task_id: d.task }, b);
    case "failover":
      return act({ kind: "failover", db: d.db }, b);
    case "force-new-deployment":
      return act({ kind: "force-new-deployment", service: d.service }, b);
    case "scale": {
      const input = document.getElementById("scale-" + d.service);
      const n = parseInt(input.value, 10) + parseInt(d.delta || "0", 10);
      if (!(n >= 0)) return;
      input.value = n;
      return act({ kind: "scale", service: d.service, desired_count: n }, b);
    }
    case "az-outage":
    case "az-restore":
      return chaos(d.action, { zone: d.zone }, b);
    case "chaos":
      return act({ kind: "chaos", chaos: faultOf(d) }, b);
  }
});

// --- Architecture (SVG) -------------------------------------------------------------------

function zonesOf(s) {
  if (s.availability_zones.length) return s.availability_zones;
  const zones = [...new Set(s.vpc.subnets.map((n) => n.availability_zone))].sort();
  return zones.map((zone) => ({ zone, state: "available" }));
}

function healthColor(h) {
  return { healthy: "#1d8102", initial: "#b7791f", draining: "#b7791f", unhealthy: "#d13212" }[h] || "#879596";
}

function box(x, y, w, h, fill, stroke, lines, attrs) {
  const g = svg("g", attrs);
  g.append(svg("rect", { x, y, width: w, height: h, rx: 4, fill, stroke, "stroke-width": 1.5 }));
  lines.forEach((line, i) => {
    g.append(svg("text", {
      x: x + 6, y: y + 15 + i * 14, "font-size": i ? 11 : 12, "font-weight": i ? 400 : 600,
      fill: "#16191f", text: line,
    }));
  });
  return g;
}

function drawArchitecture(s) {
  const zones = zonesOf(s);
  const out = [];
  const W = 1000, left = 20, top = 70, right = 980, bottom = 550;
  // The internet and the load balancer's listeners.
  const alb = s.alb;
  const listeners = alb ? alb.listeners.map((l) => l.protocol + " " + l.address).join("  ·  ") : "no load balancer";
  out.push(box(300, 8, 400, 40, "#fff4e5", "#ec7211",
    [alb ? "Application Load Balancer " + alb.name : "Internet", listeners], { "data-testid": "alb" }));
  out.push(svg("rect", { x: left, y: top, width: right - left, height: bottom - top, rx: 8, fill: "none", stroke: "#248814", "stroke-width": 2 }));
  out.push(svg("text", { x: left + 8, y: top + 16, "font-size": 13, "font-weight": 600, fill: "#248814",
    text: "VPC " + (s.vpc.name || "") + "  " + (s.vpc.cidr || "") }));
  const colW = (right - left - 20) / Math.max(zones.length, 1);
  const rowTop = top + 28, rowH = (bottom - rowTop - 10) / 3;
  zones.forEach((z, i) => {
    const x = left + 10 + i * colW;
    const down = z.state !== "available";
    out.push(svg("rect", { x: x + 4, y: rowTop - 6, width: colW - 8, height: bottom - rowTop, rx: 6,
      fill: down ? "#fde8e4" : "none", stroke: "#147eba", "stroke-dasharray": "6 4" }));
    out.push(svg("text", { x: x + colW - 12, y: rowTop + 8, "text-anchor": "end", "font-size": 12,
      fill: down ? "#d13212" : "#147eba", "font-weight": 600, text: z.zone + (down ? " (unavailable)" : "") ,
      "data-zone": z.zone, "data-state": z.state }));
    TIERS.forEach(([tier, label], r) => {
      const subnets = s.vpc.subnets.filter((n) => n.tier === tier && n.availability_zone === z.zone);
      subnets.forEach((n, k) => {
        const w = (colW - 24) / subnets.length;
        const sx = x + 12 + k * w, sy = rowTop + 14 + r * rowH;
        out.push(svg("rect", { x: sx, y: sy, width: w - 4, height: rowH - 18, rx: 4,
          fill: { public: "#e9f3e6", private: "#e6f2f8", isolated: "#f4ecf7" }[tier], stroke: "#aab7b8" }));
        out.push(svg("text", { x: sx + 6, y: sy + 13, "font-size": 11, fill: "#5f6b7a",
          text: label + " · " + n.name + " · " + n.cidr }));
        out.push(...resourcesIn(s, n, sx + 6, sy + 20, w - 16));
      });
    });
  });
  return out;
}

// What runs in subnet `n`, as boxes from (x, y) within width w.
function resourcesIn(s, n, x, y, w) {
  const items = [];
  if (n.tier === "public" && s.alb) {
    items.push({ fill: "#fff4e5", stroke: "#ec7211", lines: ["ALB node", s.alb.name], attrs: {} });
  }
  for (const b of s.bastions.filter((b) => b.subnet === n.name)) {
    items.push({ fill: "#fff", stroke: b.running ? "#1d8102" : "#d13212",
      lines: ["Bastion " + b.name, b.running ? "ssh :" + b.ssh_port : "stopped"], attrs: { "data-bastion": b.name } });
  }
  for (const svc of s.services) {
    for (const t of svc.tasks.concat(svc.stopping_tasks || [])) {
      if (t.subnet !== n.name) continue;
      const h = t.desired_status === "STOPPED" ? "draining" : t.health || "unknown";
      items.push({ fill: "#fff", stroke: healthColor(h),
        lines: ["task " + short(t.task_id), "rev " + t.task_definition_revision + " · " + (t.desired_status === "STOPPED" ? t.last_status : h)],
        attrs: { "data-task": t.task_id } });
    }
  }
  for (const db of s.databases) {
    if (db.subnet === n.name) {
      const role = db.replication ? "read replica" : "primary";
      const extra = db.replication ? "ReplicaLag " + (db.replica_lag ?? "-") + "s" : db.status;
      items.push({ fill: "#fff", stroke: db.status === "available" ? "#1d8102" : "#b7791f",
        lines: [db.identifier, role + " · " + extra], attrs: { "data-db": db.identifier, "data-role": role } });
    }
    if (db.standby && db.standby.subnet === n.name) {
      items.push({ fill: "#fff", stroke: db.standby.state === "in-sync" ? "#1d8102" : "#b7791f",
        lines: [db.identifier, "standby · " + db.standby.state], attrs: { "data-db": db.identifier, "data-role": "standby" } });
    }
  }
  const bw = 132, bh = 36, perRow = Math.max(1, Math.floor(w / (bw + 6)));
  return items.map((it, i) =>
    box(x + (i % perRow) * (bw + 6), y + Math.floor(i / perRow) * (bh + 5), bw, bh, it.fill, it.stroke, it.lines, it.attrs));
}

// --- Tables -------------------------------------------------------------------------------

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))),
    el("tbody", {}, rows));
}

function drawTargets(s) {
  const rows = [];
  for (const tg of s.target_groups) {
    for (const t of tg.targets) {
      rows.push(el("tr", { "data-target-id": t.id, "data-state": t.state, "data-address": t.address },
        el("td", {}, el("code", { text: t.id })), el("td", { text: t.address || "-" }),
        el("td", { class: stateClass(t.state), text: t.state }),
        el("td", { text: t.reason || "" }), el("td", { text: t.description || "" })));
    }
  }
  const names = s.target_groups.map((tg) => tg.name + " (port " + tg.port + ")").join(", ");
  return [el("p", { text: names || "no target group" }),
    table(["Target", "Address", "State", "Reason", "Description"], rows)];
}

function metricsOf(s, service) {
  return (s.autoscaling.metrics || []).find((m) => m.service === service);
}

function pct(v) {
  return v === null || v === undefined ? "-" : v.toFixed(0) + "%";
}

function drawTasks(s) {
  const rows = [];
  for (const svc of s.services) {
    const m = metricsOf(s, svc.name);
    for (const t of svc.tasks.concat(svc.stopping_tasks || [])) {
      const stopping = t.desired_status === "STOPPED";
      rows.push(el("tr", { "data-task-id": t.task_id, "data-health": t.health || "", "data-last-status": t.last_status },
        el("td", {}, el("code", { text: short(t.task_id) })),
        el("td", { text: svc.name }),
        el("td", { text: t.task_definition_family + ":" + t.task_definition_revision }),
        el("td", { text: t.availability_zone }),
        el("td", { text: t.cpu + " CPU · " + t.memory_mib + " MiB" + (m ? " (service avg CPU " + pct(m.cpu_utilization) + ", mem " + pct(m.memory_utilization) + ")" : "") }),
        el("td", { text: age(t.started_at || t.created_at) }),
        el("td", { class: stateClass(t.last_status), text: t.last_status }),
        el("td", { class: stateClass(t.health), text: t.health || "-" }),
        el("td", {}, stopping ? "stopping" : [
          el("button", { "data-action": "stop-task", "data-service": svc.name, "data-task": t.task_id, text: "Stop task" }), " ",
          el("button", { class: "danger", "data-action": "kill-task", "data-service": svc.name, "data-task": t.task_id, text: "Kill container" }),
        ])));
    }
  }
  return table(["Task", "Service", "Revision", "AZ", "CPU and memory", "Age", "Last status", "Target health", ""], rows);
}

function drawDatabases(s) {
  const rows = [];
  for (const db of s.databases) {
    const role = db.replication ? "read replica of " + db.replication.source : "primary";
    rows.push(el("tr", { "data-db": db.identifier, "data-role": db.replication ? "replica" : "primary", "data-subnet": db.subnet },
      el("td", { text: db.identifier }), el("td", { text: role }), el("td", { text: db.subnet }),
      el("td", { class: stateClass(db.status), text: db.status }),
      el("td", { text: db.replica_lag === null || db.replica_lag === undefined ? "-" : db.replica_lag + " s" }),
      el("td", {}, db.multi_az && !db.replication
        ? el("button", { class: "danger", "data-action": "failover", "data-db": db.identifier, text: "Force failover" })
        : "")));
    if (db.standby) {
      rows.push(el("tr", { "data-db": db.identifier, "data-role": "standby", "data-subnet": db.standby.subnet || "" },
        el("td", { text: db.identifier }), el("td", { text: "standby (Multi-AZ)" }), el("td", { text: db.standby.subnet || "-" }),
        el("td", { class: stateClass(db.standby.state), text: db.standby.state }), el("td", { text: "-" }), el("td", {})));
    }
  }
  for (const b of s.bastions) {
    rows.push(el("tr", { "data-bastion": b.name },
      el("td", { text: b.name }), el("td", { text: "bastion (" + b.instance_type + ")" }), el("td", { text: b.subnet }),
      el("td", { class: b.running ? "state-available" : "state-unavailable", text: b.running ? "running" : "stopped" }),
      el("td", { text: "ssh 127.0.0.1:" + b.ssh_port }), el("td", {})));
  }
  return table(["Identifier", "Role", "Subnet", "Status", "ReplicaLag", ""], rows);
}

function drawControls(s) {
  const rows = [];
  for (const svc of s.services) {
    rows.push(el("div", { class: "controls-row" },
      el("label", { text: "service " + svc.name }),
      el("button", { "data-action": "scale", "data-service": svc.name, "data-delta": "-1", text: "−" }),
      el("input", { id: "scale-" + svc.name, type: "number", min: 0, max: 100, value: svc.desired_count }),
      el("button", { "data-action": "scale", "data-service": svc.name, "data-delta": "1", text: "+" }),
      el("button", { "data-action": "scale", "data-service": svc.name, "data-delta": "0", text: "Set desired count" }),
      el("button", { "data-action": "force-new-deployment", "data-service": svc.name, text: "Force new deployment" })));
  }
  for (const z of zonesOf(s)) {
    const down = z.state !== "available";
    rows.push(el("div", { class: "controls-row" },
      el("label", { text: "zone " + z.zone }),
      down
        ? el("button", { "data-action": "az-restore", "data-zone": z.zone, text: "Restore AZ" })
        : el("button", { class: "danger", "data-action": "az-outage", "data-zone": z.zone, text: "AZ outage" })));
  }
  for (const db of s.databases.filter((d) => d.multi_az && !d.replication)) {
    rows.push(el("div", { class: "controls-row" },
      el("label", { text: "database " + db.identifier }),
      el("button", { class: "danger", "data-action": "failover", "data-db": db.identifier, text: "Force failover" })));
  }
  for (const db of s.databases.filter((d) => d.replication)) {
    rows.push(el("div", { class: "controls-row" },
      el("label", { text: "replica " + db.identifier }),
      faultButton("Lag 10s", { kind: "replica-lag", replica: db.identifier, delay: "10s" }),
      faultButton("No lag", { kind: "replica-lag", replica: db.identifier, delay: "0s" })));
  }
  rows.push(...drawFaultControls(s));
  return rows;
}

function faultButton(text, fault, danger) {
  return el("button", { class: danger ? "danger" : "", "data-action": "chaos", "data-chaos": JSON.stringify(fault), text });
}

// A select that keeps its choice across redraws.
function select(id, options) {
  const before = document.getElementById(id);
  const s = el("select", { id });
  for (const [value, text] of options) s.append(el("option", { value, text }));
  if (before && options.some(([value]) => value === before.value)) s.value = before.value;
  return s;
}

// Section 2's faults: on a path between tiers, or on a task; each for the chosen time.
function drawFaultControls(s) {
  const paths = [["lb-task", "load balancer → tasks"]];
  if (s.databases.length) paths.push(["task-db", "tasks → database"]);
  return [
    el("div", { class: "controls-row" },
      el("label", { text: "faults on" }),
      select("fault-path", paths),
      el("label", { text: "for" }),
      select("fault-for", [["30s", "30 s"], ["10s", "10 s"], ["2m", "2 min"], ["until-cleared", "until cleared"]])),
    el("div", { class: "controls-row" },
      faultButton("Latency 200 ms", { kind: "latency", path: "lb-task", delay: "200ms", jitter: "50ms" }),
      faultButton("Reset 50 %", { kind: "reset", path: "lb-task", rate: 0.5 }, true),
      faultButton("Bandwidth 10 KB/s", { kind: "bandwidth", path: "lb-task", rate: "10KB/s" })),
    el("div", { class: "controls-row" },
      faultButton("Pause a task", { kind: "pause-task" }, true),
      faultButton("5xx from a task (50 %)", { kind: "http-errors", rate: 0.5, status: 503 }, true),
      faultButton("Kill a task", { kind: "kill-task" }, true)),
    el("div", { class: "controls-row" },
      faultButton("Clear all faults", { kind: "clear" })),
    el("ul", { class: "faults", "data-testid": "faults" },
      ...(s.chaos.length
        ? s.chaos.map((f) => el("li", { text: "#" + f.id + " " + f.kind + ": " + f.description + (f.ends_at ? " (until " + new Date(f.ends_at).toLocaleTimeString() + ")" : " (until cleared)") }))
        : [el("li", { class: "muted", text: "no fault is active" })])),
  ];
}

// --- Charts -------------------------------------------------------------------------------

const CHARTS = [
  { title: "Requests/s by status class", series: [0, 1, 2, 3].map((i) => ({ label: (i + 2) + "XX", color: CLASS_COLORS[i], get: (p) => p.rate[i] })) },
  { title: "TargetResponseTime (ms)", series: [
    { label: "p50", color: "#0073bb", get: (p) => p.p50_ms },
    { label: "p99", color: "#d13212", get: (p) => p.p99_ms }] },
  { title: "HealthyHostCount", series: [
    { label: "healthy", color: "#1d8102", get: (p) => p.healthy },
    { label: "not healthy", color: "#d13212", get: (p) => p.unhealthy }] },
  { title: "Service tasks", series: [
    { label: "desired", color: "#879596", get: (p) => p.desired },
    { label: "running", color: "#0073bb", get: (p) => p.running }] },
];

function drawChart(spec, points) {
  const W = 300, H = 120, pad = 4;
  const values = points.flatMap((p) => spec.series.map((s) => s.get(p))).filter((v) => v !== null && v !== undefined);
  const max = Math.max(1, ...values);
  const t0 = points.length ? points[0].t : 0;
  const span = Math.max(1, (points.length ? points[points.length - 1].t : 0) - t0);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" });
  for (const s of spec.series) {
    let d = "";
    let pen = "M";
    for (const p of points) {
      const v = s.get(p);
      if (v === null || v === undefined) { pen = "M"; continue; }
      const x = pad + ((p.t - t0) / span) * (W - 2 * pad);
      const y = H - pad - (v / max) * (H - 2 * pad);
      d += pen + x.toFixed(1) + " " + y.toFixed(1) + " ";
      pen = "L";
    }
    chart.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
  }
  chart.append(svg("text", { x: W - 4, y: 12, "text-anchor": "end", "font-size": 10, fill: "#5f6b7a", text: "max " + (+max.toFixed(2)) }));
  const last = points[points.length - 1];
  return el("div", { class: "chart" }, el("h3", { text: spec.title }), chart,
    el("div", { class: "legend" }, spec.series.map((s) => {
      const v = last ? s.get(last) : null;
      return el("span", { style: "color:" + s.color, text: s.label + " " + (v === null || v === undefined ? "-" : +v.toFixed(2)) });
    })));
}

// --- Events -------------------------------------------------------------------------------

function drawEvents(events) {
  return events.slice().reverse().map((e) =>
    el("li", { class: e.source === "dashboard" ? "dashboard" : "" },
      e.at.replace("T", " ").replace("Z", "") + "  ", el("span", { class: "src", text: e.source }), "  " + e.message));
}

// --- The stream ---------------------------------------------------------------------------

function render(frame) {
  const s = frame.status;
  state.frame = frame;
  state.frames += 1;
  document.getElementById("lab-name").textContent = s.lab;
  document.title = "tierlab " + s.lab;
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  document.getElementById("architecture").replaceChildren(...drawArchitecture(s));
  redraw("controls", JSON.stringify([s.services.map((x) => [x.name, x.desired_count]), s.availability_zones, s.databases.map((d) => [d.identifier, d.multi_az]), s.chaos]), () => drawControls(s));
  redraw("targets", JSON.stringify(s.target_groups), () => drawTargets(s));
  redraw("tasks", JSON.stringify([s.services.map((x) => [x.tasks, x.stopping_tasks]), Math.floor(Date.now() / 5000)]), () => drawTasks(s));
  redraw("databases", JSON.stringify([s.databases.map((d) => [d.identifier, d.subnet, d.status, d.standby, d.replica_lag]), s.bastions]), () => drawDatabases(s));
  document.getElementById("charts").replaceChildren(...CHARTS.map((c) => drawChart(c, frame.charts)));
  redraw("events", JSON.stringify(frame.events[frame.events.length - 1] || null) + frame.events.length, () => drawEvents(frame.events));
  document.body.dataset.frames = state.frames;
}

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource("api/events");
  source.addEventListener("frame", (e) => {
    live.textContent = "live";
    live.className = "badge";
    render(JSON.parse(e.data));
  });
  // EventSource reconnects by itself; say so meanwhile.
  source.onerror = () => {
    live.textContent = "disconnected";
    live.className = "badge off";
  };
}

connect();
