// The agent console: the view from /api/console/events (server-sent events), rendered
// with textContent only (nothing from a call is ever parsed as HTML).
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  let current = null;

  function text(id, value) { $(id).textContent = value == null ? "" : String(value); }

  function list(id, items, render) {
    const ul = $(id);
    ul.replaceChildren();
    for (const item of items || []) {
      const li = document.createElement("li");
      render(li, item);
      ul.appendChild(li);
    }
  }

  function render(view) {
    current = view;
    text("status", view.extension ? "Handset " + view.extension +
         (view.board ? "" : " (live board not running)") : "No handset linked to " + view.user);
    const call = view.call;
    $("no-call").hidden = !!call;
    $("call").hidden = !call;
    if (!call) return;
    $("refused").hidden = !call.refused;
    $("call-details").hidden = !!call.refused;
    if (call.refused) { text("refused", "Not shown: " + call.refused); return; }
    $("call").dataset.callId = call.call_id || "";
    text("caller", call.caller || "unknown caller");
    text("call-state", call.state);
    text("call-queue", call.queue ? "queue " + call.queue : "");
    text("call-language", call.language);
    const t = call.triage;
    const u = $("triage-urgency");
    u.textContent = t.urgency ? "U" + t.urgency : "no triage";
    u.className = "urgency" + (t.urgency ? " u" + t.urgency : "");
    text("triage-department", t.department || "");
    $("triage-crisis").hidden = !t.crisis;
    $("triage-red-flag").hidden = !t.red_flag;
    list("triage-reasons", t.reasons, (li, r) => { li.textContent = r; });
    list("summary", call.summary, (li, s) => { li.textContent = s; });
    list("transcript", call.transcript, (li, line) => {
      li.className = line.who;
      li.textContent = (line.who === "caller" ? "Caller: " : "Line: ") + line.text;
    });
    const cue = $("voice-cue");
    cue.hidden = !call.voice_cue;
    cue.textContent = call.voice_cue ? call.voice_cue.text : "";
    const h = call.history;
    text("history-summary", h ? (h.summary || "No earlier calls in 30 days.") : "Looking up...");
    list("history-calls", h ? h.calls : [], (li, c) => {
      li.textContent = c.started_at.slice(0, 16).replace("T", " ") + " " + c.topic +
        (c.urgency ? " (U" + c.urgency + ")" : "") + " " + (c.outcome || "");
    });
    list("open-followups", h ? h.open_followups : [], (li, f) => {
      li.textContent = f.kind + " due " + f.due_at.slice(0, 16).replace("T", " ") +
        " (" + f.status + ")";
    });
    const conf = $("conference");
    conf.hidden = !call.conference;
    conf.textContent = call.conference ? "Emergency team: " + (call.conference.state || "") : "";
    for (const b of document.querySelectorAll("#emergency button")) {
      b.disabled = !view.emergency_tools || call.state === "ended";
      b.title = view.emergency_tools ? "" : "Emergency tools not installed: use the handset";
    }
    if (call.disposition) {
      text("disposition-status", "Saved: " + call.disposition.department);
    } else if (!$("disposition-form").dataset.touched && t.department) {
      $("disposition-department").value = t.department;
      if (t.urgency) $("disposition-urgency").value = String(t.urgency);
    }
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({ error: "Error", message: response.statusText }));
    if (!response.ok) throw new Error((data.error || "Error") + ": " + (data.message || ""));
    return data;
  }

  function callId() { return current && current.call ? current.call.call_id : null; }

  $("disposition-form").addEventListener("change", () => {
    $("disposition-form").dataset.touched = "1";
  });
  $("disposition-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = callId();
    if (!id) return;
    const urgency = $("disposition-urgency").value;
    try {
      const r = await post("/api/calls/" + encodeURIComponent(id) + "/disposition", {
        department: $("disposition-department").value,
        urgency: urgency ? Number(urgency) : null,
        resolved: $("disposition-resolved").checked,
        note: $("disposition-note").value,
      });
      text("disposition-status", "Saved: " + r.disposition.department);
    } catch (err) { text("disposition-status", err.message); }
  });
  $("followup-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = callId();
    if (!id) return;
    try {
      const r = await post("/api/calls/" + encodeURIComponent(id) + "/followup", {
        number: $("followup-number").value, kind: $("followup-kind").value,
        in_hours: Number($("followup-hours").value), reason: $("followup-reason").value,
      });
      text("followup-status", "Follow-up opened for " + r.followup.number);
    } catch (err) { text("followup-status", err.message); }
  });
  for (const b of document.querySelectorAll("#emergency button")) {
    b.addEventListener("click", async () => {
      const id = callId();
      if (!id) return;
      try {
        await post("/api/calls/" + encodeURIComponent(id) + "/emergency",
                   { action: b.dataset.action });
        text("emergency-status", "Done: " + b.textContent);
      } catch (err) { text("emergency-status", err.message); }
    });
  }
  $("kb-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = new URLSearchParams({ q: $("kb-query").value, lang: $("kb-lang").value });
    const response = await fetch("/api/knowledge?" + q, { credentials: "same-origin" });
    const data = await response.json();
    if (!response.ok) { text("kb-version", data.error + ": " + data.message); return; }
    text("kb-version", "Version " + data.version + ", " + data.owner);
    list("kb-results", data.results, (li, r) => {
      const head = document.createElement("strong");
      head.textContent = r.name + (r.matched && r.matched !== r.name ? " (" + r.matched + ")" : "");
      const body = document.createElement("p");
      body.textContent = r.text;
      const meta = document.createElement("small");
      meta.textContent = "Source: " + r.source + " - owner " + r.owner + " - review by " +
        r.review_by;
      li.append(head, body, meta);
      if (r.expired) {
        const flag = document.createElement("span");
        flag.className = "expired";
        flag.textContent = " EXPIRED: not reviewed since " + r.review_by;
        li.appendChild(flag);
      }
    });
  });

  function connect() {
    const source = new EventSource("/api/console/events");
    source.addEventListener("view", (e) => { render(JSON.parse(e.data)); });
    source.addEventListener("signed_out", () => { source.close(); window.location = "/login"; });
    source.onerror = () => { text("status", "Reconnecting..."); };
  }
  fetch("/api/console/state", { credentials: "same-origin" })
    .then((r) => r.ok ? r.json() : Promise.reject(r))
    .then(render)
    .catch(() => { window.location = "/login?next=/console"; })
    .finally(connect);
})();
