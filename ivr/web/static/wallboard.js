// The supervisor wallboard: the view from /api/wallboard/events (server-sent events),
// rendered with textContent only (nothing from a call is ever parsed as HTML). Waits
// tick here every second, from each caller's waiting_since and the server's clock.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  let current = null;
  let skew = 0; // server clock minus ours, ms

  function el(tag, cls, textValue) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (textValue != null) e.textContent = String(textValue);
    return e;
  }

  function since(iso) {
    if (!iso) return null;
    return Math.max(0, (Date.now() + skew - Date.parse(iso)) / 1000);
  }

  function duration(seconds) {
    if (seconds == null) return "-";
    const s = Math.round(seconds);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function percent(value) { return value == null ? "-" : Math.round(value * 100) + "%"; }

  function urgencyLabel(u) { return u ? "U" + u : "not triaged"; }

  function callerLine(c) {
    const li = el("li", "wb-caller" + (c.urgency ? " u" + c.urgency : ""));
    li.dataset.uniqueid = c.uniqueid;
    li.dataset.priority = c.priority == null ? "" : String(c.priority);
    const u = el("span", "urgency" + (c.urgency ? " u" + c.urgency : ""), urgencyLabel(c.urgency));
    li.appendChild(u);
    if (c.red_flag) li.appendChild(el("span", "flag", "RED FLAG"));
    if (c.crisis) li.appendChild(el("span", "flag", "CRISIS"));
    li.appendChild(el("span", "caller", " " + c.caller));
    li.appendChild(el("span", "prio quiet", " priority " + (c.priority == null ? "?" : c.priority)));
    const wait = el("span", "wait", duration(since(c.waiting_since)));
    wait.dataset.since = c.waiting_since || "";
    li.appendChild(wait);
    if (c.state === "ringing") {
      li.appendChild(el("span", "quiet", " ringing " + (c.agent_extension || "")));
    }
    if (c.summary) li.appendChild(el("span", "summary", c.summary));
    return li;
  }

  function renderQueues(view) {
    const box = $("wb-queues");
    box.replaceChildren();
    for (const q of view.queues) {
      const div = el("div", "wb-queue");
      div.dataset.queue = q.queue;
      div.appendChild(el("h3", null, q.queue + " (" + q.waiting.length + ")"));
      const ol = el("ol");
      for (const c of q.waiting) ol.appendChild(callerLine(c));
      div.appendChild(ol);
      box.appendChild(div);
    }
    $("wb-no-waiting").hidden = view.queues.length > 0;
  }

  function renderTalking(view) {
    const body = $("wb-talking");
    body.replaceChildren();
    for (const c of view.talking) {
      const tr = el("tr");
      tr.dataset.uniqueid = c.uniqueid;
      tr.appendChild(el("td", null, c.caller));
      tr.appendChild(el("td", null, urgencyLabel(c.urgency)));
      tr.appendChild(el("td", null, c.queue || ""));
      tr.appendChild(el("td", null, c.agent_extension || ""));
      const td = el("td");
      for (const mode of ["listen", "whisper", "barge"]) {
        const b = el("button", "spy", mode);
        b.type = "button";
        b.dataset.mode = mode;
        b.disabled = !c.can_spy;
        b.title = view.can.spy ? "Ring my handset into this call" : "Supervisors only";
        b.addEventListener("click", () => spy(c.uniqueid, mode));
        td.appendChild(b);
      }
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  function renderAgents(view) {
    const body = $("wb-agents");
    body.replaceChildren();
    for (const a of view.agents) {
      const tr = el("tr");
      tr.dataset.extension = a.extension;
      tr.appendChild(el("td", null, a.extension));
      tr.appendChild(el("td", null, a.name));
      const state = el("td");
      const s = el("span", "agent-state " + a.state, a.state.replace("_", " "));
      s.dataset.state = a.state;
      state.appendChild(s);
      if (a.state === "paused" && a.pause_reason) {
        state.appendChild(el("span", "quiet", " (" + a.pause_reason + ")"));
      }
      tr.appendChild(state);
      tr.appendChild(el("td", null, a.queues.join(", ")));
      body.appendChild(tr);
    }
  }

  function renderOverride(view) {
    const o = view.override;
    const state = $("wb-override-state");
    state.textContent = o.on
      ? "ON: every new call goes to the emergency team" +
        (o.reason ? " (" + o.reason + ")" : "") + (o.set_by ? ", by " + o.set_by : "")
      : "Off: calls follow the flows";
    state.className = "wb-override-state" + (o.on ? " on" : "");
    state.dataset.on = o.on ? "1" : "0";
    const toggle = $("wb-override-toggle");
    toggle.textContent = o.on ? "Turn override off" : "Turn override on";
    toggle.dataset.turn = o.on ? "off" : "on";
    $("wb-override-who").hidden = view.can.override;
  }

  function renderFigures(view) {
    const f = view.figures;
    $("wb-day").textContent = f.day ? f.day + " (" + f.timezone + ")" : "";
    $("wb-waiting-now").textContent = f.waiting_now;
    $("wb-talking-now").textContent = f.talking_now;
    $("wb-longest-now").textContent = duration(since(f.longest_waiting_since));
    $("wb-longest-now").dataset.since = f.longest_waiting_since || "";
    $("wb-answered").textContent = f.answered == null ? "-" : f.answered;
    $("wb-sl-label").textContent = "Service level (" +
      (f.service_level_seconds == null ? "?" : f.service_level_seconds) + " s)";
    $("wb-service-level").textContent = percent(f.service_level);
    $("wb-abandoned").textContent = f.abandoned == null ? "-"
      : f.abandoned + " (" + percent(f.abandonment) + ")";
    $("wb-longest-today").textContent = duration(f.longest_wait_seconds);
  }

  function render(view) {
    current = view;
    if (view.now) skew = Date.parse(view.now) - Date.now();
    $("wb-status").textContent = view.board ? "Live" : "Live board not running";
    renderOverride(view);
    renderFigures(view);
    renderQueues(view);
    renderTalking(view);
    renderAgents(view);
  }

  function tick() {
    for (const w of document.querySelectorAll("[data-since]")) {
      if (w.dataset.since) w.textContent = duration(since(w.dataset.since));
    }
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return { ok: response.ok, data: data };
  }

  function refusal(data) {
    return (data.error || "Error") + ": " + (data.message || "refused");
  }

  async function switchOverride(event) {
    event.preventDefault();
    const on = $("wb-override-toggle").dataset.turn !== "off";
    const out = $("wb-override-result");
    out.className = "";
    out.textContent = "Sending...";
    const r = await post("/api/wallboard/override",
                         { on: on, reason: $("wb-override-reason").value });
    if (r.ok) {
      out.textContent = "Override " + (r.data.override.on ? "ON" : "off");
      if (current) { current.override = r.data.override; renderOverride(current); }
    } else {
      out.className = "wb-refused";
      out.textContent = refusal(r.data);
    }
  }

  async function spy(uniqueid, mode) {
    const out = $("wb-spy-result");
    out.className = "";
    out.textContent = "Ringing your handset (" + mode + ")...";
    const r = await post("/api/wallboard/spy", { uniqueid: uniqueid, mode: mode });
    if (r.ok) {
      out.textContent = "Your handset " + r.data.extension + " rings: answer to " + mode;
    } else {
      out.className = "wb-refused";
      out.textContent = refusal(r.data);
    }
  }

  $("wb-override-form").addEventListener("submit", switchOverride);
  const source = new EventSource("/api/wallboard/events");
  source.addEventListener("view", (e) => render(JSON.parse(e.data)));
  source.addEventListener("signed_out", () => { source.close(); location.href = "/login"; });
  source.onerror = () => { $("wb-status").textContent = "Reconnecting..."; };
  setInterval(tick, 1000);
})();
