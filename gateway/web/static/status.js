// Atelier live status page: a full snapshot over the WebSocket, then one message per changed machine.
// Reconnects by itself with back-off; a banner says when the connection is lost.
(function () {
  "use strict";

  const L = JSON.parse(document.getElementById("labels").textContent);
  const grid = document.getElementById("grid");
  const banner = document.getElementById("banner");
  const empty = document.getElementById("empty");
  const summary = document.getElementById("summary");
  const clock = document.getElementById("clock");
  const ORDER = ["running", "hold", "ready", "stopped", "idle", "alarm", "offline"];
  const machines = new Map();
  const tiles = new Map();
  let clockOffsetMs = 0; // server time minus browser time
  let attempt = 0;
  let everConnected = false;

  function key(m) { return m.site + "/" + m.id; }
  function nowMs() { return Date.now() + clockOffsetMs; }
  function label(group, value) { return (L[group] && L[group][value]) || value || "—"; }

  function duration(seconds) {
    if (seconds == null || !isFinite(seconds)) return "—";
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h > 0 ? h + ":" + pad(m) + ":" + pad(r) : m + ":" + pad(r);
  }

  function since(iso) {
    if (!iso) return "—";
    const s = Math.max(0, (nowMs() - Date.parse(iso)) / 1000);
    if (s < 60) return Math.floor(s) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h + " h " + String(m).padStart(2, "0");
  }

  function el(tag, cls, parent) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (parent) parent.appendChild(node);
    return node;
  }

  function field(dl, title) {
    const wrap = el("div", null, dl);
    el("dt", null, wrap).textContent = title;
    return el("dd", null, wrap);
  }

  // The header holds the name and the state label, then one line: the machine's detail, or who works there.
  function createTile() {
    const tile = el("article", "tile");
    const head = el("header", null, tile);
    const parts = { name: el("h2", "name", head), badge: el("span", "badge", head) };
    const line = el("div", "line", head);
    parts.detail = el("div", "detail", line);
    parts.work = el("div", "work", line);
    parts.program = el("div", "program", tile);
    parts.progress = el("div", "progress", tile);
    parts.fill = el("div", "fill", parts.progress);
    parts.progressText = el("span", "text", parts.progress);
    const dl = el("dl", null, tile);
    parts.parts = field(dl, L.parts);
    parts.current = field(dl, L.cycle);
    parts.cycle = field(dl, L.last_cycle);
    parts.since = field(dl, L.in_state);
    parts.alarm = el("div", "alarm", tile);
    tile._parts = parts;
    return tile;
  }

  function render(m) {
    let tile = tiles.get(key(m));
    if (!tile) {
      tile = createTile();
      tiles.set(key(m), tile);
    }
    const p = tile._parts;
    tile.className = "tile s-" + m.status;
    tile.dataset.machine = m.id;
    tile.dataset.status = m.status;
    p.name.textContent = m.id;
    p.name.title = m.site + " / " + m.id;
    p.badge.textContent = label("status", m.status);
    const detail = [label("availability", m.availability)];
    if (m.agent_online && m.execution) detail.push(label("execution", m.execution));
    if (m.mode) detail.push(label("mode_names", m.mode));
    if (m.tool) detail.push(L.tool + " " + m.tool);
    p.detail.textContent = detail.join(" · ");
    p.program.textContent = m.program || "—";
    p.program.title = m.program || "";
    p.program.classList.remove("mismatch");
    p.parts.textContent = m.part_count == null ? "—" : String(m.part_count);
    const today = el("small");
    today.textContent = " (" + m.parts_today + " " + L.parts_today + ")";
    p.parts.appendChild(today);
    p.cycle.textContent = duration(m.last_cycle_s);
    renderWork(p, m);
    p.since.textContent = since(m.state_since);
    p.since.dataset.since = m.state_since || "";
    const alarms = (m.alarms || []).map((a) => a.code + " " + a.message);
    if (m.emergency_stop) alarms.unshift(L.emergency_stop);
    p.alarm.textContent = alarms.join(" · ");
    p.alarm.title = alarms.join("\n");
    tile.classList.toggle("has-work", !!m.work);
    if (tile.isConnected) fit(tile);
  }

  // The machine's name comes first: when it and the state label do not fit on one line,
  // the label moves down beside the detail line (class "tight") rather than cut the name.
  function fit(tile) {
    tile.classList.remove("tight");
    const name = tile._parts.name;
    if (name.scrollWidth > name.clientWidth) tile.classList.add("tight");
  }

  // Who is at the machine and how far the order is; the student's name only reaches screens allowed it,
  // and the link to their practice log only a master's (the server sends student_id to masters alone).
  function renderWork(p, m) {
    const w = m.work;
    const order = w && w.order ? w.order + (w.operation ? " · " + L.operation_short + " " + w.operation : "") : "";
    const who = w ? [w.student, order || L.practice].filter(Boolean).join(" · ") : "";
    p.work.textContent = "";
    if (w && w.student && w.student_id) {
      const link = el("a", "student-link", p.work);
      link.href = "/students/" + encodeURIComponent(w.student_id) + "/log";
      link.textContent = w.student;
      p.work.appendChild(document.createTextNode(" · " + (order || L.practice)));
    } else {
      p.work.textContent = who;
    }
    p.work.title = who;
    // A program that is not the operation's: said in place of the program, in the alarm colour.
    if (w && w.mismatch) {
      const text = L.mismatch.replace("{program}", w.mismatch.program)
        .replace("{operation}", String(w.mismatch.operation)).replace("{expected}", w.mismatch.expected.join(", "));
      p.program.textContent = text;
      p.program.title = text;
      p.program.classList.add("mismatch");
    }
    const showBar = !!(w && w.ordered);
    p.progress.hidden = !showBar;
    if (showBar) {
      p.fill.style.width = Math.min(100, (100 * w.good) / w.ordered) + "%";
      p.progressText.textContent = L.good_of + " " + w.good + " / " + w.ordered;
    }
    p.current.dataset.since = m.status === "running" ? m.state_since || "" : "";
    p.current.dataset.standard = w && w.standard_s ? String(w.standard_s) : "";
    renderCurrent(p.current);
  }

  function renderCurrent(dd) {
    if (!dd.dataset.since) { dd.textContent = "—"; dd.classList.remove("over"); return; }
    const elapsed = Math.max(0, (nowMs() - Date.parse(dd.dataset.since)) / 1000);
    const standard = Number(dd.dataset.standard || 0);
    dd.textContent = duration(elapsed) + (standard ? " / " + duration(standard) : "");
    dd.classList.toggle("over", standard > 0 && elapsed > standard);
  }

  function layout() {
    const keys = Array.from(machines.keys()).sort();
    keys.forEach((k) => grid.appendChild(tiles.get(k)));
    for (const [k, tile] of tiles) {
      if (!machines.has(k)) { tile.remove(); tiles.delete(k); } else fit(tile);
    }
    empty.hidden = keys.length > 0;
    renderSummary();
  }

  function renderSummary() {
    const counts = {};
    for (const m of machines.values()) counts[m.status] = (counts[m.status] || 0) + 1;
    summary.textContent = "";
    for (const status of ORDER) {
      if (!counts[status]) continue;
      const item = el("span", "count", summary);
      el("span", "dot s-" + status, item);
      item.appendChild(document.createTextNode(counts[status] + " " + label("status", status)));
    }
  }

  function onMessage(event) {
    const msg = JSON.parse(event.data);
    if (msg.type === "snapshot") {
      if (msg.now) clockOffsetMs = Date.parse(msg.now) - Date.now();
      machines.clear();
      msg.machines.forEach((m) => { machines.set(key(m), m); render(m); });
      layout();
    } else if (msg.type === "machine") {
      const isNew = !machines.has(key(msg.machine));
      machines.set(key(msg.machine), msg.machine);
      render(msg.machine);
      if (isNew) layout(); else renderSummary();
    }
  }

  function showBanner(text) {
    banner.textContent = text;
    banner.classList.add("shown");
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/ws/status");
    socket.onopen = function () {
      attempt = 0;
      everConnected = true;
      banner.classList.remove("shown");
    };
    socket.onmessage = onMessage;
    socket.onclose = function () {
      showBanner(everConnected ? L.connection_lost : L.connecting);
      const delay = Math.min(15000, 500 * Math.pow(2, attempt)) * (0.8 + Math.random() * 0.4);
      attempt += 1;
      setTimeout(connect, delay);
    };
  }

  function tick() {
    clock.textContent = new Date().toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
    for (const tile of tiles.values()) {
      const dd = tile._parts.since;
      if (dd.dataset.since) dd.textContent = since(dd.dataset.since);
      renderCurrent(tile._parts.current);
    }
  }

  window.addEventListener("resize", () => tiles.forEach(fit));
  showBanner(L.connecting);
  tick();
  setInterval(tick, 1000);
  connect();
})();
