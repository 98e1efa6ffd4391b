// minigrad explorer: steps through a recorded backward pass. Plain JavaScript, no libraries.
// Every string from the data is shown with textContent or canvas fillText, never as markup.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const N = D.nodes,
    E = D.entries,
    EV = D.events,
    n = N.length;
  const VISIT = 0,
    SEND = 1,
    HOOK = 2;
  const W = 120,
    H = 30,
    GAP = 40,
    COLW = 150,
    PAD = 14; // world units
  const $ = (id) => document.getElementById(id);
  const num = (x) => (typeof x === "string" ? Number(x) : x);

  // -- numbers --
  function fmt(v) {
    v = num(v);
    if (Number.isNaN(v)) return "NaN";
    if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
    if (v === 0) return "0";
    let s = v.toPrecision(6);
    if (s.includes("e")) {
      let [m, e] = s.split("e");
      if (m.includes(".")) m = m.replace(/0+$/, "").replace(/\.$/, "");
      return m + "e" + e;
    }
    return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
  }
  const isSmall = (e) => e.length === 2;
  const norm = (i) => num(E[i][0]);
  function arrayText(i, shape) {
    const e = E[i];
    if (!isSmall(e)) {
      return (
        "‖·‖ = " +
        fmt(e[0]) +
        "   min " +
        fmt(e[1]) +
        "   max " +
        fmt(e[2]) +
        (e[3] || e[4] ? "   (" + e[3] + " NaN, " + e[4] + " inf)" : "")
      );
    }
    const v = e[1].map(fmt);
    if (shape.length === 0) return v[0];
    const rec = (dim, off) => {
      const step = shape.slice(dim + 1).reduce((a, b) => a * b, 1),
        out = [];
      for (let k = 0; k < shape[dim]; k++) {
        out.push(dim === shape.length - 1 ? v[off + k] : rec(dim + 1, off + k * step));
      }
      return "[" + out.join(dim === shape.length - 1 ? ", " : ",\n" + " ".repeat(dim + 1)) + "]";
    };
    return rec(0, 0);
  }
  function short(i) {
    if (i < 0) return "";
    const e = E[i];
    if (isSmall(e) && e[1].length === 1) return fmt(e[1][0]);
    return "‖" + fmt(e[0]) + "‖";
  }
  const nodeName = (k) =>
    N[k].n !== null ? N[k].n : N[k].lb !== null ? N[k].lb + " #" + k : "#" + k;

  // -- the graph's structure --
  const consumers = Array.from({ length: n }, () => []);
  N.forEach((v, k) => v.in.forEach((x, j) => consumers[x].push([k, j])));
  const received = Array.from({ length: n }, () => []); // send events into each node
  const sentBy = Array.from({ length: n }, () => []); // send events out of each node
  const visitAt = new Int32Array(n).fill(-1);
  EV.forEach((e, k) => {
    if (e[0] === SEND) {
      received[e[3]].push(k);
      sentBy[e[1]].push(k);
    } else if (e[0] === VISIT) visitAt[e[1]] = k;
  });
  const stepped = Array.isArray(D.steps);
  const shared = new Set(D.shared || []);
  const stepIndex = new Map();
  if (stepped) D.steps.forEach((s, k) => stepIndex.set(s[0], k));

  // -- state after the first k events --
  const cur = new Int32Array(n),
    grad = new Int32Array(n),
    count = new Int32Array(n);
  const status = new Uint8Array(n),
    hooked = new Int32Array(n); // 0 untouched, 1 receiving, 2 visited
  let k = 0;
  function replay(to) {
    k = Math.max(0, Math.min(EV.length, to));
    cur.fill(-1);
    count.fill(0);
    status.fill(0);
    hooked.fill(-1);
    for (let i = 0; i < n; i++) grad[i] = visitAt[i] >= 0 ? (N[i].pr ?? -1) : (N[i].g ?? -1);
    for (let i = 0; i < k; i++) {
      const e = EV[i];
      if (e[0] === SEND) {
        cur[e[3]] = e[5];
        count[e[3]] = e[6];
        status[e[3]] = 1;
        continue;
      }
      cur[e[1]] = e[2];
      status[e[1]] = 2;
      if (e[0] === HOOK) hooked[e[1]] = i;
      if (N[e[1]].last === i) grad[e[1]] = N[e[1]].st ?? -1;
    }
  }

  // -- layout: steps side by side, collapsed ranges as one box --
  let collapsed = []; // [first, last] step numbers
  const pos = new Float64Array(2 * n),
    hidden = new Uint8Array(n),
    boxOf = new Int32Array(n);
  let boxes = [],
    clusters = [],
    bounds = [0, 0, 1, 1];
  function layout() {
    hidden.fill(0);
    boxOf.fill(-1);
    boxes = [];
    clusters = [];
    if (!stepped) {
      N.forEach((v, i) => {
        pos[2 * i] = v.x;
        pos[2 * i + 1] = v.y;
      });
    } else {
      const off = new Map();
      let x = 0;
      for (const [t, w, top, bottom] of D.steps) {
        const h = bottom - top;
        const range = collapsed.find(([a, b]) => t >= a && t <= b);
        if (range) {
          if (t === range[0] || !boxes.length || boxes[boxes.length - 1].range !== range) {
            boxes.push({ range, x, w: COLW, h: Math.max(H * 2, h), first: t, last: t });
            x += COLW + GAP;
          }
          const b = boxes[boxes.length - 1];
          b.last = t;
          b.h = Math.max(b.h, h);
          off.set(t, -1 - (boxes.length - 1));
        } else {
          off.set(t, x);
          clusters.push({ t, x, w, top, bottom });
          x += w + GAP;
        }
      }
      N.forEach((v, i) => {
        if (v.t !== undefined) {
          const o = off.get(v.t);
          if (o < 0) {
            hidden[i] = 1;
            boxOf[i] = -1 - o;
            const b = boxes[boxOf[i]];
            pos[2 * i] = b.x + b.w / 2 - W / 2;
            pos[2 * i + 1] = 0;
          } else {
            pos[2 * i] = o + v.x;
            pos[2 * i + 1] = v.y;
          }
        } else if (v.post) {
          pos[2 * i] = x + v.x;
          pos[2 * i + 1] = v.y;
        } else hidden[i] = 2; // shared: drawn in the dock
      });
    }
    let x0 = Infinity,
      x1 = -Infinity,
      y0 = Infinity,
      y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      if (hidden[i] === 2) continue;
      x0 = Math.min(x0, pos[2 * i]);
      x1 = Math.max(x1, pos[2 * i] + W);
      y0 = Math.min(y0, pos[2 * i + 1] - H);
      y1 = Math.max(y1, pos[2 * i + 1] + H);
    }
    bounds = Number.isFinite(x0) ? [x0 - 60, y0 - 60, x1 + 60, y1 + 60] : [0, 0, 1, 1];
  }
  const sharedList = stepped ? [...shared] : [];
  function dockRect(j) {
    const rows = Math.max(1, Math.floor((canvas.clientHeight - 20) / 36));
    return [10 + Math.floor(j / rows) * (W + 10), 10 + (j % rows) * 36, W, H];
  }

  // -- view --
  const canvas = $("graph"),
    ctx = canvas.getContext("2d");
  const fcanvas = $("folded"),
    fctx = fcanvas.getContext("2d");
  let scale = 1,
    tx = 0,
    ty = 0,
    selected = -1,
    heat = false;
  const toScreen = (x, y) => [x * scale + tx, y * scale + ty];
  function resize() {
    const r = window.devicePixelRatio || 1;
    for (const c of [canvas, fcanvas]) {
      c.width = Math.max(1, c.clientWidth * r);
      c.height = Math.max(1, c.clientHeight * r);
    }
  }
  function fit(b) {
    const [x0, y0, x1, y1] = b,
      w = canvas.clientWidth,
      h = canvas.clientHeight;
    scale = Math.min(w / (x1 - x0), h / (y1 - y0), 2);
    tx = (w - (x0 + x1) * scale) / 2;
    ty = (h - (y0 + y1) * scale) / 2;
  }
  function centre(i, minScale) {
    if (hidden[i] === 2) return;
    if (minScale && scale < minScale) scale = minScale;
    const w = canvas.clientWidth,
      h = canvas.clientHeight;
    tx = w / 2 - (pos[2 * i] + W / 2) * scale;
    ty = h / 2 - pos[2 * i + 1] * scale;
  }
  function onScreen(i, margin) {
    const [sx, sy] = toScreen(pos[2 * i], pos[2 * i + 1]);
    return (
      sx > margin &&
      sx + W * scale < canvas.clientWidth - margin &&
      sy > margin &&
      sy < canvas.clientHeight - margin
    );
  }

  // -- colours --
  const VIRIDIS = [
    "#440154",
    "#472d7b",
    "#3b528b",
    "#2c728e",
    "#21918c",
    "#28ae80",
    "#5ec962",
    "#addc30",
    "#fde725",
  ];
  const FILL = { param: "#cfe2f3", const: "#eeeeee", op: "#ffffff" };
  function heatColour(i) {
    const v = norm(i);
    if (!Number.isFinite(v)) return "#ff0000";
    const [lo, hi] = D.heat,
      span = hi - lo || 1;
    const f = v > 0 ? Math.min(1, Math.max(0, (Math.log10(v) - lo) / span)) : 0;
    return VIRIDIS[Math.round(f * (VIRIDIS.length - 1))];
  }
  const dark = (c) =>
    ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#ff0000"].includes(c);
  function fillOf(i) {
    const g = cur[i] >= 0 ? cur[i] : grad[i];
    if (g >= 0 && !Number.isFinite(norm(g))) return "#ff0000";
    if (heat) return g >= 0 ? heatColour(g) : "#f7f7f7";
    return status[i] === 2 ? "#e8f5e9" : status[i] === 1 ? "#e3f2fd" : FILL[N[i].k];
  }

  // -- what the current event highlights --
  function highlights() {
    const h = { node: -1, out: new Map(), arriving: new Map(), receiver: -1 };
    if (k === 0) return h;
    const e = EV[k - 1],
      node = e[1];
    h.node = node;
    if (e[0] === VISIT || e[0] === HOOK) {
      for (const s of received[node]) h.arriving.set(EV[s][1] + ":" + node, EV[s][4]);
    } else {
      h.receiver = e[3];
      for (const s of sentBy[node])
        if (s < k && s > visitAt[node])
          h.out.set(node + ":" + EV[s][3] + ":" + EV[s][4], s === k - 1);
    }
    return h;
  }

  // -- drawing --
  function anchor(i, right) {
    // where edges meet node i, in screen coordinates
    if (hidden[i] === 2) {
      const j = sharedList.indexOf(i),
        r = dockRect(j);
      return [r[0] + r[2], r[1] + r[3] / 2];
    }
    if (hidden[i] === 1) {
      const b = boxes[boxOf[i]];
      return toScreen(b.x + (right ? b.w : 0), 0);
    }
    return toScreen(pos[2 * i] + (right ? W : 0), pos[2 * i + 1]);
  }
  function arrow(c, x0, y0, x1, y1, colour, width) {
    // from the consumer back to the input
    c.strokeStyle = colour;
    c.fillStyle = colour;
    c.lineWidth = width;
    c.beginPath();
    c.moveTo(x0, y0);
    c.lineTo(x1, y1);
    c.stroke();
    const a = Math.atan2(y1 - y0, x1 - x0),
      s = 9;
    c.beginPath();
    c.moveTo(x1, y1);
    c.lineTo(x1 - s * Math.cos(a - 0.4), y1 - s * Math.sin(a - 0.4));
    c.lineTo(x1 - s * Math.cos(a + 0.4), y1 - s * Math.sin(a + 0.4));
    c.fill();
  }
  function drawNode(i, x, y, w, h, hl, big) {
    ctx.fillStyle = fillOf(i);
    ctx.fillRect(x, y, w, h);
    if (!big) return;
    const kind = N[i].k;
    ctx.lineWidth =
      i === hl.node ? 4 : i === hl.receiver ? 3 : i === selected ? 3 : kind === "param" ? 2 : 1;
    ctx.strokeStyle =
      i === hl.node
        ? "#ff8f00"
        : i === hl.receiver
          ? "#1565c0"
          : i === selected
            ? "#000000"
            : kind === "const"
              ? "#999999"
              : "#555555";
    if (kind === "const") ctx.setLineDash([4, 3]);
    ctx.strokeRect(x, y, w, h);
    ctx.setLineDash([]);
    if (hooked[i] >= 0) {
      ctx.fillStyle = "#d81b60";
      ctx.fillRect(x + w - 10, y, 10, 10);
    }
    const f = Math.min(12, h * 0.4);
    if (f < 5) return;
    const fill = fillOf(i);
    ctx.fillStyle = dark(fill) ? "#ffffff" : "#222222";
    ctx.font = f + "px Helvetica, Arial, sans-serif";
    ctx.textBaseline = "middle";
    const label = N[i].n !== null ? N[i].n : N[i].lb !== null ? N[i].lb : "#" + i;
    const g = cur[i] >= 0 ? cur[i] : grad[i];
    clip(label, x + 4, y + h * 0.32, w - 8);
    clip(
      status[i] === 1
        ? "Σ " + count[i] + "/" + received[i].length + ": " + short(g)
        : g >= 0
          ? "g " + short(g)
          : N[i].sh.join("×") || "scalar",
      x + 4,
      y + h * 0.72,
      w - 8,
    );
  }
  function clip(text, x, y, w) {
    let t = text.replace(/[\u0000-\u001f]/g, "\u00b7");
    if (ctx.measureText(t).width > w) {
      while (t.length > 1 && ctx.measureText(t + "…").width > w) t = t.slice(0, -1);
      t += "…";
    }
    ctx.fillText(t, x, y);
  }
  function draw() {
    const r = window.devicePixelRatio || 1,
      cw = canvas.clientWidth,
      ch = canvas.clientHeight;
    ctx.setTransform(r, 0, 0, r, 0, 0);
    ctx.clearRect(0, 0, cw, ch);
    const hl = highlights();
    const vx0 = -tx / scale,
      vx1 = (cw - tx) / scale,
      vy0 = -ty / scale,
      vy1 = (ch - ty) / scale;
    const visible = (x, y, w, h) => x + w >= vx0 && x <= vx1 && y + h >= vy0 && y <= vy1;
    ctx.font = "12px Helvetica, Arial, sans-serif";
    ctx.textBaseline = "middle";
    for (const c of clusters) {
      // a step's width counts one column gap (D.dx) beyond its last box
      const y = c.top - H / 2 - PAD - 14,
        w = c.w - D.dx + W + 2 * PAD,
        h = c.bottom - c.top + H + 2 * PAD + 14;
      if (!visible(c.x - PAD, y, w, h)) continue;
      const [sx, sy] = toScreen(c.x - PAD, y);
      ctx.strokeStyle = "#aaaaaa";
      ctx.lineWidth = 1;
      ctx.strokeRect(sx, sy, w * scale, h * scale);
      if (scale > 0.25) {
        ctx.fillStyle = "#666666";
        ctx.fillText("t = " + c.t, sx + 4, sy + 8);
      }
    }
    for (const b of boxes) {
      if (!visible(b.x, -b.h / 2, b.w, b.h)) continue;
      const [sx, sy] = toScreen(b.x, -b.h / 2);
      ctx.fillStyle =
        hl.node >= 0 && N[hl.node].t >= b.first && N[hl.node].t <= b.last ? "#ffe0b2" : "#f3f3f3";
      ctx.fillRect(sx, sy, b.w * scale, b.h * scale);
      ctx.strokeStyle = "#888888";
      ctx.setLineDash([5, 3]);
      ctx.strokeRect(sx, sy, b.w * scale, b.h * scale);
      ctx.setLineDash([]);
      if (scale > 0.2) {
        ctx.fillStyle = "#333333";
        ctx.fillText("t = " + b.first + " … " + b.last, sx + 6, sy + 14);
        ctx.fillText(
          "(" + (stepIndex.get(b.last) - stepIndex.get(b.first) + 1) + " steps: click)",
          sx + 6,
          sy + 30,
        );
      }
    }
    // edges: input → consumer, faint; highlighted ones carry gradients back (arrows)
    ctx.strokeStyle = "#b0b0b0";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      if (hidden[i] === 2) continue;
      for (const x of N[i].in) {
        if (hidden[x] === 2 || (hidden[i] === 1 && hidden[x] === 1 && boxOf[i] === boxOf[x]))
          continue;
        const a = anchor(x, true),
          b = anchor(i, false);
        if (
          (a[0] < 0 && b[0] < 0) ||
          (a[0] > cw && b[0] > cw) ||
          (a[1] < 0 && b[1] < 0) ||
          (a[1] > ch && b[1] > ch)
        )
          continue;
        ctx.moveTo(a[0], a[1]);
        ctx.lineTo(b[0], b[1]);
      }
    }
    ctx.stroke();
    if (selected >= 0 && hidden[selected] === 2) {
      // a shared node: its uses in view
      ctx.strokeStyle = "rgba(21,101,192,0.35)";
      ctx.beginPath();
      const a = anchor(selected, true);
      for (const [c] of consumers[selected]) {
        if (hidden[c] || !visible(pos[2 * c], pos[2 * c + 1] - H, W, 2 * H)) continue;
        const b = anchor(c, false);
        ctx.moveTo(a[0], a[1]);
        ctx.lineTo(b[0], b[1]);
      }
      ctx.stroke();
    }
    for (const [key, src] of hl.arriving) {
      const [from, to] = key.split(":").map(Number);
      const a = anchor(from, false),
        b = anchor(to, true);
      arrow(ctx, a[0], a[1], b[0], b[1], "#1565c0", 2.5);
    }
    for (const [key, now] of hl.out) {
      const [from, to] = key.split(":").map(Number);
      const a = anchor(from, false),
        b = anchor(to, true);
      arrow(ctx, a[0], a[1], b[0], b[1], now ? "#ff6f00" : "#ffb74d", now ? 4 : 2.5);
    }
    const big = W * scale > 14;
    for (let i = 0; i < n; i++) {
      if (hidden[i]) continue;
      const x = pos[2 * i],
        y = pos[2 * i + 1] - H / 2;
      if (!visible(x, y, W, H)) continue;
      const [sx, sy] = toScreen(x, y);
      drawNode(i, sx, sy, W * scale, H * scale, hl, big);
    }
    if (sharedList.length) {
      ctx.fillStyle = "#555555";
      ctx.font = "11px Helvetica, Arial, sans-serif";
      sharedList.forEach((i, j) => {
        const [x, y, w, h] = dockRect(j);
        drawNode(i, x, y, w, h, hl, true);
      });
    }
    drawFolded(hl);
  }

  // -- the folded view --
  const F = D.fold;
  function drawFolded(hl) {
    if (!F || fcanvas.hidden) return;
    const r = window.devicePixelRatio || 1,
      cw = fcanvas.clientWidth,
      ch = fcanvas.clientHeight;
    const c = fctx;
    c.setTransform(r, 0, 0, r, 0, 0);
    c.clearRect(0, 0, cw, ch);
    const { at, bw, bh } = foldedPlaces(cw, ch);
    const current = hl.node >= 0 ? F.of[hl.node] : -1,
      receiver = hl.receiver >= 0 ? F.of[hl.receiver] : -1;
    c.font = "12px Helvetica, Arial, sans-serif";
    c.textBaseline = "middle";
    c.fillStyle = "#333333";
    c.fillText("folded by role" + (stepped ? " (the steps merged)" : ""), 10, 14);
    for (const [a, b, delayed] of F.edges) {
      if (a === b && !delayed) continue;
      const [ax, ay] = at(a),
        [bx, by] = at(b);
      const hot =
        (a === receiver && b === current) || (hl.node >= 0 && hl.receiver < 0 && b === current);
      c.strokeStyle = hot ? "#ff6f00" : delayed ? "#c62828" : "#999999";
      c.lineWidth = hot ? 3 : delayed ? 2 : 1;
      c.beginPath();
      if (delayed) {
        // the recurrence, from an earlier step: a loop out to the right
        const out = 30 + 6 * (Math.abs(ay - by) / 40);
        c.moveTo(ax + bw, ay);
        c.bezierCurveTo(ax + bw + out, ay, bx + bw + out, by + 7, bx + bw, by + 7);
        c.fillText(
          F.names[a] === F.names[b] ? "↻ t−1" : "t−1",
          Math.max(ax, bx) + bw + out * 0.6,
          (ay + by) / 2,
        );
      } else {
        c.moveTo(ax + bw / 2, ay - bh / 2);
        c.lineTo(bx + bw / 2, by + bh / 2 + 14);
      }
      c.stroke();
    }
    F.names.forEach((name, j) => {
      const [x, y] = at(j);
      const state = foldedState(j);
      c.fillStyle = j === current ? "#ffe0b2" : j === receiver ? "#bbdefb" : "#ffffff";
      c.fillRect(x, y - bh / 2, bw, bh + 14);
      c.strokeStyle = j === current ? "#ff8f00" : j === receiver ? "#1565c0" : "#777777";
      c.lineWidth = j === current || j === receiver ? 3 : 1;
      c.strokeRect(x, y - bh / 2, bw, bh + 14);
      c.fillStyle = "#222222";
      c.font = Math.max(9, Math.min(12, bh * 0.45)) + "px Helvetica, Arial, sans-serif";
      foldedClip(c, name, x + 3, y - bh / 2 + 8, bw - 6);
      c.font = "10px Helvetica, Arial, sans-serif";
      foldedClip(c, state, x + 3, y - bh / 2 + 22, bw - 6);
    });
  }
  function foldedText() {
    // the folded view's states as text, for screen readers (and tests)
    const list = $("folded-list");
    if (!F) return;
    if (!list.children.length) F.names.forEach((name) => list.append(el("li")));
    F.names.forEach((name, j) => {
      const li = list.children[j];
      li.textContent = name + ": " + foldedState(j);
      li.dataset.name = name;
    });
  }
  function foldedClip(c, text, x, y, w) {
    let t = String(text).replace(/[\u0000-\u001f]/g, "\u00b7");
    while (t.length > 1 && c.measureText(t).width > w) t = t.slice(0, -1);
    c.fillText(t, x, y);
  }
  const members = F ? Array.from({ length: F.names.length }, () => []) : [];
  if (F) F.of.forEach((j, i) => members[j].push(i));
  function foldedState(j) {
    const m = members[j];
    if (m.length === 1) {
      // one tensor (W): the sum of its contributions so far
      const i = m[0];
      if (received[i].length > 1) {
        return (
          "Σ " + count[i] + "/" + received[i].length + (cur[i] >= 0 ? " " + short(cur[i]) : "")
        );
      }
      return cur[i] >= 0 ? "g " + short(cur[i]) : "";
    }
    let done = 0,
      total = 0;
    for (const i of m) {
      if (visitAt[i] >= 0) total++;
      if (status[i] === 2) done++;
    }
    return total ? done + "/" + total + " visited" : m.length + " nodes";
  }

  // -- details --
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function row(table, key, value, field) {
    const tr = el("tr");
    tr.append(el("td", key));
    const td = el("td", value);
    if (field) td.dataset.field = field;
    tr.append(td);
    table.append(tr);
    return td;
  }
  function showDetails() {
    const box = $("details");
    box.replaceChildren();
    if (selected < 0) {
      box.append(
        el(
          "p",
          "Click a node, or search for one by name. Step through the backward pass " +
            "with the buttons, the slider or the arrow keys.",
          "hint",
        ),
      );
      return;
    }
    const v = N[selected],
      i = selected;
    box.append(el("h2", nodeName(i)));
    const t = el("table");
    box.append(t);
    row(
      t,
      "op",
      v.op === null ? (v.k === "param" ? "leaf (parameter)" : "leaf (constant)") : v.lb,
      "op",
    );
    row(t, "name", v.n === null ? "(none)" : v.n, "name");
    row(
      t,
      "shape",
      v.sh.length ? "(" + v.sh.join(", ") + (v.sh.length === 1 ? ",)" : ")") : "() scalar",
      "shape",
    );
    row(t, "dtype", v.dt);
    for (const [key, val] of Object.entries(v.tg)) row(t, "tag " + key, val, "tag-" + key);
    row(t, "inputs", v.in.map(nodeName).join(", ") || "none");
    box.append(el("h3", "value"));
    const vp = el("pre", arrayText(v.v, v.sh));
    vp.dataset.field = "value";
    box.append(vp);
    box.append(el("h3", "gradient at this step"));
    const gs =
      status[i] === 2
        ? arrayText(cur[i], v.sh)
        : status[i] === 1
          ? "partial sum of " +
            count[i] +
            " of " +
            received[i].length +
            " contributions:\n" +
            arrayText(cur[i], v.sh)
          : visitAt[i] >= 0
            ? "not reached yet"
            : v.rq
              ? "not reached by this pass"
              : "none (no grad needed)";
    const gp = el("pre", gs);
    gp.dataset.field = "grad";
    gp.dataset.status = status[i];
    box.append(gp);
    box.append(el("h3", ".grad"));
    const gd = el("pre", grad[i] >= 0 ? arrayText(grad[i], v.sh) : "None");
    gd.dataset.field = "dotgrad";
    box.append(gd);
    if (v.note) box.append(el("p", v.note, "note"));
    if (hooked[i] >= 0) {
      const e = EV[hooked[i]];
      box.append(el("h3", "a hook replaced the gradient"));
      box.append(
        el("pre", "before: " + arrayText(e[3], v.sh) + "\nafter:  " + arrayText(e[2], v.sh)),
      );
    }
    if (received[i].length > 1) {
      box.append(
        el("h3", "contributions (" + received[i].length + " consumers) and the running sum"),
      );
      const tab = el("table", undefined, "sum");
      tab.dataset.field = "contributions";
      box.append(tab);
      const shown = received[i].filter((s) => s < k),
        start = Math.max(0, shown.length - 200);
      if (start) row(tab, "…", start + " earlier contributions");
      for (const s of shown.slice(start)) {
        const e = EV[s];
        const tr = el("tr", undefined, s === k - 1 ? "current" : "");
        tr.append(el("td", "#" + e[6]));
        const td = el(
          "td",
          "from " +
            nodeName(e[1]) +
            " (" +
            N[e[1]].op +
            ", operand " +
            e[4] +
            "):\n" +
            arrayText(e[2], v.sh) +
            "\nsum: " +
            arrayText(e[5], v.sh),
        );
        td.dataset.field = "partial";
        td.dataset.count = e[6];
        tr.append(td);
        tab.append(tr);
      }
      if (!shown.length) row(tab, "", "none yet at this step");
    }
    box.append(el("h3", v.op === null ? "rule" : "its VJP rule (the op table, minigrad/ops.py)"));
    box.append(
      el(
        "pre",
        v.op === null
          ? "a leaf: no VJP; its gradient is the sum of what its consumers send"
          : D.rules[v.op] || "op '" + v.op + "' is not in the op table",
      ),
    );
  }

  // -- stepping and the event line --
  const slider = $("slider");
  slider.max = EV.length;
  function describe() {
    if (k === 0) return "before the backward pass: " + EV.length + " steps. Press → or ▶.";
    const e = EV[k - 1],
      who = nodeName(e[1]);
    if (e[0] === VISIT)
      return (
        "visit " +
        who +
        ": its gradient is complete (" +
        received[e[1]].length +
        " contribution" +
        (received[e[1]].length === 1 ? "" : "s") +
        "): " +
        short(e[2])
      );
    if (e[0] === HOOK)
      return "hook on " + who + " replaced its gradient " + short(e[3]) + " by " + short(e[2]);
    return (
      "send: " +
      who +
      " (" +
      N[e[1]].op +
      ") → " +
      nodeName(e[3]) +
      " (operand " +
      e[4] +
      "): " +
      short(e[2]) +
      "; " +
      nodeName(e[3]) +
      " has " +
      e[6] +
      " of " +
      received[e[3]].length
    );
  }
  function go(to) {
    replay(to);
    slider.value = k;
    $("counter").textContent = "step " + k + " / " + EV.length;
    $("event").textContent = describe();
    if ($("follow").checked && k > 0) {
      const e = EV[k - 1],
        i = e[0] === SEND && hidden[e[1]] === 2 ? e[3] : e[1];
      if (!hidden[i] && !onScreen(i, 40)) centre(i, 0.5);
    }
    showDetails();
    draw();
    foldedText();
  }
  let timer = null;
  function play(on) {
    if (timer) {
      cancelAnimationFrame(timer);
      timer = null;
    }
    $("play").textContent = on ? "pause" : "play";
    $("play").setAttribute("aria-label", on ? "pause" : "play");
    if (!on) return;
    let last = performance.now(),
      carry = 0;
    const tick = (now) => {
      carry += ((now - last) / 1000) * Number($("speed").value);
      last = now;
      const steps = Math.floor(carry);
      if (steps) {
        carry -= steps;
        go(k + steps);
      }
      if (k >= EV.length) {
        play(false);
        return;
      }
      timer = requestAnimationFrame(tick);
    };
    timer = requestAnimationFrame(tick);
  }
  $("first").onclick = () => {
    play(false);
    go(0);
  };
  $("prev").onclick = () => {
    play(false);
    go(k - 1);
  };
  $("next").onclick = () => {
    play(false);
    go(k + 1);
  };
  $("last").onclick = () => {
    play(false);
    go(EV.length);
  };
  $("play").onclick = () => {
    if (!timer && k >= EV.length) go(0);
    play(!timer);
  };
  slider.oninput = () => {
    play(false);
    go(Number(slider.value));
  };
  $("heat").onchange = () => {
    heat = $("heat").checked;
    legend();
    draw();
  };
  $("fit").onclick = () => {
    fit(bounds);
    draw();
  };
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) return;
    const keys = {
      ArrowRight: () => go(k + 1),
      ArrowLeft: () => go(k - 1),
      Home: () => go(0),
      End: () => go(EV.length),
      " ": () => $("play").onclick(),
    };
    if (keys[ev.key]) {
      ev.preventDefault();
      if (ev.key !== " ") play(false);
      keys[ev.key]();
    }
  });

  // -- selection, search, pan and zoom --
  function select(i, centreIt) {
    selected = i;
    if (i >= 0 && hidden[i] === 1) {
      collapsed = collapsed.filter((r) => r !== boxes[boxOf[i]].range);
      layout();
    }
    if (i >= 0 && centreIt) centre(i, 0.6);
    showDetails();
    draw();
  }
  function hit(sx, sy) {
    for (let j = 0; j < sharedList.length; j++) {
      const [x, y, w, h] = dockRect(j);
      if (sx >= x && sx <= x + w && sy >= y && sy <= y + h) return { node: sharedList[j] };
    }
    const wx = (sx - tx) / scale,
      wy = (sy - ty) / scale;
    for (let i = 0; i < n; i++) {
      if (
        !hidden[i] &&
        wx >= pos[2 * i] &&
        wx <= pos[2 * i] + W &&
        Math.abs(wy - pos[2 * i + 1]) <= H / 2
      )
        return { node: i };
    }
    for (const b of boxes)
      if (wx >= b.x && wx <= b.x + b.w && Math.abs(wy) <= b.h / 2) return { box: b };
    return null;
  }
  let drag = null;
  canvas.addEventListener("mousedown", (ev) => {
    drag = { x: ev.clientX, y: ev.clientY, moved: false };
  });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x,
      dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) {
      tx += dx;
      ty += dy;
      drag.x = ev.clientX;
      drag.y = ev.clientY;
      draw();
    }
  });
  window.addEventListener("mouseup", (ev) => {
    if (drag && !drag.moved && ev.target === canvas) {
      const r = canvas.getBoundingClientRect(),
        h = hit(ev.clientX - r.left, ev.clientY - r.top);
      if (h && h.box) {
        collapsed = collapsed.filter((x) => x !== h.box.range);
        layout();
        draw();
      } else select(h ? h.node : -1, false);
    }
    drag = null;
  });
  canvas.addEventListener(
    "wheel",
    (ev) => {
      ev.preventDefault();
      const r = canvas.getBoundingClientRect(),
        mx = ev.clientX - r.left,
        my = ev.clientY - r.top;
      const f = Math.exp(-ev.deltaY * 0.0015),
        s = Math.min(8, Math.max(1e-5, scale * f));
      tx = mx - (mx - tx) * (s / scale);
      ty = my - (my - ty) * (s / scale);
      scale = s;
      draw();
    },
    { passive: false },
  );
  function foldedPlaces(cw, ch) {
    // the folded layout turned: inputs at the bottom, the loss on top
    const px = F.at.map((p) => (p[1] * (W + 14)) / 46),
      py = F.at.map((p) => (-p[0] * (H + 40)) / D.dx);
    const x0 = Math.min(...px),
      x1 = Math.max(...px) + W,
      y0 = Math.min(...py) - H,
      y1 = Math.max(...py) + H + 14;
    const s = Math.min((cw - 20) / (x1 - x0), (ch - 60) / (y1 - y0), 1);
    return { at: (j) => [10 + (px[j] - x0) * s, 40 + (py[j] - y0) * s], bw: W * s, bh: H * s };
  }
  fcanvas.addEventListener("click", (ev) => {
    // a folded node selects its tensor (W), or a member
    const r = fcanvas.getBoundingClientRect(),
      x = ev.clientX - r.left,
      y = ev.clientY - r.top;
    const { at, bw, bh } = foldedPlaces(fcanvas.clientWidth, fcanvas.clientHeight);
    F.names.forEach((name, j) => {
      const [px, py] = at(j);
      if (x >= px && x <= px + bw && y >= py - bh / 2 && y <= py + bh / 2 + 14) {
        const m = members[j];
        select(
          m.length === 1
            ? m[0]
            : k > 0 && F.of[EV[k - 1][1]] === j
              ? EV[k - 1][1]
              : m[m.length - 1],
          true,
        );
      }
    });
  });
  const search = $("search"),
    results = $("results");
  function find(q) {
    q = q.toLowerCase();
    const out = [];
    for (let i = 0; i < n && out.length < 50; i++)
      if (N[i].n !== null && N[i].n.toLowerCase().includes(q)) out.push(i);
    return out;
  }
  search.addEventListener("input", () => {
    results.replaceChildren();
    const q = search.value.trim();
    if (!q) {
      results.hidden = true;
      return;
    }
    for (const i of find(q)) {
      const li = el("li", N[i].n + "  ·  " + (N[i].op || N[i].k));
      li.dataset.node = i;
      li.addEventListener("mousedown", (ev) => {
        ev.preventDefault();
        results.hidden = true;
        select(i, true);
      });
      results.append(li);
    }
    if (!results.children.length) results.append(el("li", "no node named like that"));
    results.hidden = false;
  });
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      const f = find(search.value.trim());
      if (f.length) {
        results.hidden = true;
        select(f[0], true);
      }
    }
    if (ev.key === "Escape") results.hidden = true;
  });
  search.addEventListener("blur", () => {
    results.hidden = true;
  });
  if (stepped) {
    $("stepctl").hidden = false;
    const ts = D.steps.map((s) => s[0]);
    const first = ts[Math.min(ts.length > 12 ? 3 : 1, ts.length - 1)];
    $("from").value = first;
    $("to").value = Math.max(first, ts[ts.length - (ts.length > 12 ? 4 : 2)]);
    $("collapse").onclick = () => {
      const a = Number($("from").value),
        b = Number($("to").value);
      if (!(a <= b)) return;
      collapsed = collapsed.filter(([x, y]) => y < a || x > b).concat([[a, b]]);
      layout();
      draw();
    };
    $("expand").onclick = () => {
      collapsed = [];
      layout();
      draw();
    };
  }
  function legend() {
    const box = $("legend");
    box.replaceChildren();
    if (heat) {
      box.append(el("span", "log10 ‖grad‖ " + D.heat[0].toFixed(1)));
      for (const c of VIRIDIS) {
        const s = el("span", undefined, "swatch");
        s.style.background = c;
        box.append(s);
      }
      box.append(el("span", D.heat[1].toFixed(1)));
    }
    const red = el("span", undefined, "swatch");
    red.style.background = "#ff0000";
    box.append(red, el("span", "NaN / inf"));
    const o = el("span", undefined, "swatch");
    o.style.background = "#ff8f00";
    box.append(o, el("span", "processed, its VJP outputs"));
    const b = el("span", undefined, "swatch");
    b.style.background = "#1565c0";
    box.append(b, el("span", "gradients arriving"));
  }

  // -- start --
  if (D.title) {
    $("title").textContent = D.title;
    document.title = D.title + " · minigrad explorer";
  }
  $("folded").hidden = !F;
  resize();
  layout();
  legend();
  fit(bounds);
  if (scale < 0.8 && EV.length) centre(EV[0][1], 0.8);
  window.addEventListener("resize", () => {
    resize();
    draw();
  });
  go(0);
  // For tests and the curious: read-only looks at the page's state.
  window.explorer = Object.freeze({
    steps: EV.length,
    nodes: n,
    get step() {
      return k;
    },
    go: (s) => go(s),
    select: (i) => select(i, true),
    screen(i) {
      const [x, y] = anchor(i, false);
      return [x + (hidden[i] === 2 ? -W / 2 : (W * scale) / 2), y];
    },
    collapsed: () => collapsed.map((r) => r.slice()),
    view: () => [scale, tx, ty],
    colour: (i) => fillOf(i),
    hidden: (i) => hidden[i],
  });
  document.body.dataset.ready = "true";
})();
