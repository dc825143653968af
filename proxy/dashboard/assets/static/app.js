// ward dashboard: the live feed and the approval pages. Plain JavaScript,
// no build step. Everything from the server is inserted as text, never
// as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
    return e;
  }

  function when(iso) {
    const d = new Date(iso);
    const sameDay = d.toDateString() === new Date().toDateString();
    return (sameDay ? "" : d.toLocaleDateString() + " ") + d.toLocaleTimeString();
  }

  function micros(us) {
    if (!us || us <= 0) return "—";
    if (us < 1000) return us + "µs";
    if (us < 1e6) return (us / 1000).toFixed(1) + "ms";
    return (us / 1e6).toFixed(1) + "s";
  }

  function verdictClass(v) {
    if (v === "allow" || v === "allowed" || v === "passthrough") return "verdict ok";
    if (v === "would_deny" || v === "pending") return "verdict warn";
    return "verdict bad";
  }

  function duration(ms) {
    if (ms <= 0) return "now";
    const s = Math.round(ms / 1000);
    return s >= 60 ? Math.floor(s / 60) + "m " + (s % 60) + "s" : s + "s";
  }

  // ---- the live feed -------------------------------------------------

  function feed() {
    const body = $("feed-body");
    const params = new URLSearchParams(location.search);
    const filter = new URLSearchParams();
    for (const k of ["agent", "endpoint", "verdict"]) {
      const v = params.get(k);
      if (v) { filter.set(k, v); $("f-" + k).value = v; }
    }
    const maxRows = 1000;
    let newest = 0, oldest = 0;

    function row(a) {
      const tr = el("tr", { "class": "action", "data-id": a.id, "data-seq": a.seq },
        el("td", {}, el("time", { datetime: a.time }, when(a.time))),
        el("td", { title: a.user || "" }, a.agent),
        el("td", {}, a.endpoint),
        el("td", { "class": "summary" }, el("a", { href: "/actions/" + encodeURIComponent(a.id) }, a.summary || a.id)),
        el("td", {}, el("span", { "class": verdictClass(a.verdict) }, a.verdict)),
        el("td", {}, a.reason || ""),
        el("td", {}, a.decided_by || ""),
        el("td", {}, micros(a.latency_us)));
      return tr;
    }

    function empty() { $("feed-empty").hidden = body.children.length > 0; }

    // trim keeps the page light on a busy gateway: past maxRows, the
    // oldest rows go, and "Older actions" brings them back.
    function trim() {
      if (body.children.length <= maxRows) return;
      while (body.children.length > maxRows) body.lastElementChild.remove();
      oldest = Number(body.lastElementChild.getAttribute("data-seq"));
      $("older").hidden = false;
    }

    async function page(before) {
      const q = new URLSearchParams(filter);
      q.set("limit", "50");
      if (before) q.set("before", before);
      const resp = await fetch("/api/actions?" + q, { credentials: "same-origin" });
      if (!resp.ok) throw new Error("actions: " + resp.status);
      return resp.json();
    }

    async function older() {
      const p = await page(oldest);
      for (const a of p.actions) { body.append(row(a)); oldest = a.seq; }
      $("older").hidden = !p.more;
      empty();
    }

    function live() {
      const q = new URLSearchParams(filter);
      q.set("after", String(newest));
      const es = new EventSource("/events?" + q);
      es.addEventListener("open", () => { $("live").textContent = "live"; $("live").className = "live on"; });
      es.addEventListener("error", () => { $("live").textContent = "reconnecting…"; $("live").className = "live"; });
      es.addEventListener("action", (ev) => {
        const a = JSON.parse(ev.data);
        if (a.seq <= newest) return;
        newest = a.seq;
        if (!oldest) oldest = a.seq;
        const tr = row(a);
        tr.classList.add("new");
        body.prepend(tr);
        trim();
        empty();
      });
      es.addEventListener("approvals", (ev) => approvals(JSON.parse(ev.data)));
      // Too much was missed to replay: start over from the newest page.
      es.addEventListener("reset", () => { es.close(); start(); });
    }

    function start() {
      page(0).then((p) => {
        body.replaceChildren();
        newest = 0; oldest = 0;
        for (const a of p.actions) {
          body.append(row(a));
          newest = Math.max(newest, a.seq);
          oldest = a.seq;
        }
        $("older").hidden = !p.more;
        empty();
        live();
      }).catch((e) => { $("live").textContent = String(e); });
    }

    $("older").addEventListener("click", () => older().catch(console.error));
    start();
  }

  // ---- pending approvals ---------------------------------------------

  function approvals(list) {
    const body = $("approvals-body");
    body.replaceChildren();
    const now = Date.now();
    for (const a of list) {
      body.append(el("tr", { "class": "approval", "data-id": a.id },
        el("td", {}, el("time", { datetime: a.created }, when(a.created))),
        el("td", {}, a.agent),
        el("td", {}, a.endpoint),
        el("td", { "class": "summary" }, el("a", { href: "/approvals/" + encodeURIComponent(a.id) }, a.summary || a.action_id)),
        el("td", {}, a.note || ""),
        el("td", {}, a.judge + (a.can_decide ? "" : " (view only)")),
        el("td", { "class": "expires", "data-expires": a.expires }, duration(new Date(a.expires) - now))));
    }
    $("approvals-table").hidden = list.length === 0;
    $("approvals-empty").hidden = list.length > 0;
    const c = $("approvals-count");
    c.textContent = String(list.length);
    c.className = list.length ? "count" : "count zero";
  }

  function tickExpiry() {
    const now = Date.now();
    for (const td of document.querySelectorAll("[data-expires]")) {
      td.textContent = duration(new Date(td.getAttribute("data-expires")) - now);
    }
  }

  // ---- one approval's page -------------------------------------------

  // watchApproval reloads the page when the approval is decided anywhere
  // (here, in Slack, with `ward approve`, by its timeout).
  function watchApproval(box) {
    const id = box.getAttribute("data-approval");
    const timer = setInterval(async () => {
      try {
        const resp = await fetch("/api/approvals/" + encodeURIComponent(id), { credentials: "same-origin" });
        if (!resp.ok) return;
        const a = await resp.json();
        if (a.state !== "pending") { clearInterval(timer); location.reload(); }
      } catch (e) { /* try again on the next tick */ }
    }, 1000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    if ($("feed-body")) feed();
    const box = document.querySelector("[data-approval][data-pending]");
    if (box) watchApproval(box);
    if (document.querySelector("[data-expires]") || $("approvals-body")) setInterval(tickExpiry, 1000);
  });
})();
