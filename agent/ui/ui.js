// The live cluster page: what `om mon` shows, from GET /api/cluster, drawn again each
// time GET /api/events (server-sent events, read with fetch so the token goes in a
// header) says something changed, and every 5 s for what no event tells (a node frozen);
// polled every second when no event stream answers.
// The token comes from the URL's fragment (#token=..., never sent to the server) or the
// form, and is kept in sessionStorage for this tab only.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let token = null;
  let lastId = "";
  let drawing = false, again = false;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  async function get(path) {
    const r = await fetch(path, { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    const body = await r.json().catch(() => ({ error: "not JSON" }));
    if (!r.ok) {
      const e = new Error(body.error || r.statusText);
      e.status = r.status;
      throw e;
    }
    return body;
  }

  function drawNodes(v) {
    const tb = $("nodes").tBodies[0];
    tb.replaceChildren();
    for (const name of Object.keys(v.nodes).sort()) {
      const n = v.nodes[name];
      const tr = el("tr");
      tr.dataset.node = name;
      tr.dataset.liveness = n.liveness;
      tr.append(el("td", name + (name === v.cluster.node ? " (this page's node)" : "")),
        el("td", n.liveness, n.liveness), el("td", n.state, n.state),
        el("td", n.monitor), el("td", n.frozen ? "frozen" : ""),
        el("td", n.last_seen_ms < 0 ? "never" : (n.last_seen_ms / 1000).toFixed(1) + "s ago"),
        el("td", n.hb.rx));
      tb.append(tr);
    }
  }

  function drawObjects(v) {
    const nodes = Object.keys(v.nodes).sort();
    const head = $("objects").tHead.rows[0];
    while (head.cells.length > 4) head.deleteCell(4);
    for (const n of nodes) head.append(el("th", n));
    const tb = $("objects").tBodies[0];
    tb.replaceChildren();
    for (const path of Object.keys(v.objects).sort()) {
      const o = v.objects[path];
      const tr = el("tr");
      tr.dataset.path = path;
      tr.append(el("td", path), el("td", o.avail, o.avail), el("td", o.orchestrate),
        el("td", o.target || ""));
      for (const n of nodes) {
        const i = o.instances[n];
        const td = el("td");
        td.dataset.node = n;
        if (i) {
          td.dataset.avail = i.avail;
          td.dataset.leader = i.ha_leader;
          let t = i.avail + (i.ha_leader ? " ^" : "") + (i.frozen ? " *" : "");
          if (i.monitor && i.monitor !== "idle") t += " " + i.monitor;
          td.textContent = t;
          td.className = (i.monitor.includes("failed") ? "failed" : i.avail) + (i.stale ? " stale" : "");
        }
        tr.append(td);
      }
      tb.append(tr);
    }
  }

  async function draw() {
    if (drawing) { again = true; return; }
    drawing = true;
    try {
      do {
        again = false;
        const v = await get("/api/cluster");
        $("cluster").textContent = v.cluster.name;
        $("summary").textContent = "quorum " + (v.cluster.quorum_held ? "held" : "LOST") +
          " (" + v.cluster.votes + "/" + v.cluster.votes_total + " votes), served by " + v.cluster.node;
        drawNodes(v);
        drawObjects(v);
        document.body.dataset.drawn = Date.now();
      } while (again);
    } catch (e) {
      if (e.status === 401) return logout(e.message);
      $("conn").textContent = "error: " + e.message;
    } finally {
      drawing = false;
    }
  }

  function addEvent(ev) {
    const li = el("li", new Date(ev.ts || Date.now()).toISOString().slice(11, 23) + " " +
      (ev.node ? ev.node + " " : "") + (ev.text || JSON.stringify(ev)));
    li.dataset.kind = ev.kind || "";
    $("events").prepend(li);
    while ($("events").children.length > 200) $("events").lastChild.remove();
  }

  // GET /api/events as a stream: each "data:" line is one event (JSON)
  async function stream() {
    for (;;) {
      try {
        const r = await fetch("/api/events" + (lastId ? "?since=" + encodeURIComponent(lastId) : ""), {
          headers: { Authorization: "Bearer " + token, Accept: "text/event-stream" } });
        if (r.status === 404) return poll();
        if (r.status === 401) return logout("token refused");
        if (!r.ok) throw new Error(r.statusText);
        $("conn").textContent = "live";
        $("conn").className = "conn live";
        draw();
        const rd = r.body.getReader(), dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await rd.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let k;
          while ((k = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, k);
            buf = buf.slice(k + 2);
            for (const line of block.split("\n")) {
              if (line.startsWith("id:")) lastId = line.slice(3).trim();
              if (line.startsWith("event:")) continue;
              if (!line.startsWith("data:") || block.includes("event: hello")) continue;
              try { addEvent(JSON.parse(line.slice(5))); } catch (e) { /* not JSON */ }
              draw();
            }
          }
        }
      } catch (e) {
        $("conn").textContent = "reconnecting: " + e.message;
      }
      $("conn").className = "conn";
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async function poll() {
    $("conn").textContent = "polling every second (no event stream)";
    for (;;) {
      await draw();
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  function logout(why) {
    sessionStorage.removeItem("om-token");
    token = null;
    $("main").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = why || "";
  }

  async function open(t) {
    token = t;
    try {
      await get("/api/whoami");
    } catch (e) {
      return logout(e.message);
    }
    sessionStorage.setItem("om-token", t);
    $("login").hidden = true;
    $("main").hidden = false;
    await draw();
    setInterval(draw, 5000);
    stream();
  }

  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    open($("token").value.trim());
  });
  const m = location.hash.match(/token=([^&]+)/);
  if (m) history.replaceState(null, "", location.pathname);
  const t = m ? decodeURIComponent(m[1]) : sessionStorage.getItem("om-token");
  if (t) open(t); else logout();
})();
