// papermap topic map. Decodes the embedded point blob (layout: PAGE_FORMAT.md), draws every point
// with WebGL (a Canvas2D fallback writes pixels straight into ImageData), and wires pan/zoom,
// hover, click, search, topic toggles and non-overlapping labels. Built for a million points:
// nothing here creates a DOM node, object or string per point. No network is used, except on a
// live page (meta.api, served by `papermap serve`), whose live.js asks the server.
// With `#selfcheck=<query>` in the URL the page exercises those features after the first full
// render and writes what it saw into #papermap-selfcheck (and window.papermapSelfCheck) as JSON.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const ui = {
    map: $("map"), canvas: $("points-canvas"), labels: $("labels-canvas"), status: $("status"),
    tooltip: $("tooltip"), search: $("search"), count: $("count"), aside: $("topics"),
    added: $("added"), addedToggle: $("added-toggle"), addedText: $("added-text"),
    today: $("today"), todayToggle: $("today-toggle"), todayText: $("today-text"), list: $("list"),
  };
  const meta = JSON.parse($("papermap-meta").textContent);
  const n = meta.n, topics = meta.topics, groups = meta.groups || [];
  const B = meta.bounds, spanX = B[2] - B[0], spanY = B[3] - B[1];
  const Q = 65535; // quantisation steps of the u16 coordinates
  // Bits of marks[i]: search hit, added since the map was made, today's (a listed paper), focused.
  const HIT = 1, ADDED = 2, TODAY = 4, FOCUS = 8;

  let D = null;                                 // decoded point data, see sections()
  const topicOn = new Uint8Array(topics.length).fill(1);
  const topicRGB = topics.map((t) => parseColour(t.colour));
  const marks = new Uint8Array(n);              // HIT | ADDED | TODAY | FOCUS per point
  let focused = -1;                             // the point a list item points at, if any
  let markMask = 0;                             // which mark bits highlight a point right now
  let highlighted = new Uint32Array(0);         // those points, drawn again on top with a ring
  let hits = new Uint32Array(0);                // points matching the search, ascending
  let size = { w: 1, h: 1, dpr: 1 };           // map area in CSS pixels, device pixel ratio
  let home = { cx: 0, cy: 0, s: 1 }, view = home; // centre (layout units), pixels per unit
  let renderer = null, grid = null, lastLabels = null;
  let live = null;                              // search and related papers through a server (live.js)

  function parseColour(hex) {
    const v = parseInt(String(hex).replace("#", ""), 16) || 0;
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  // Label text is the topic colour darkened, so that it stays readable on white.
  const darker = (rgb) => `rgb(${rgb.map((c) => Math.round(c * 0.62)).join(",")})`;
  const fmt = (v) => Number(v).toLocaleString("en-US");
  const bySize = (a, b) => b.size - a.size;

  // ---- Data ----------------------------------------------------------------------------------

  // base64 -> gzip bytes -> blob, with only what the browser ships (no inflate in JS).
  async function decodeBlob() {
    const el = $("papermap-points");
    const b64 = el.textContent.trim();
    el.textContent = ""; // the base64 text is as large as the data; let it go
    const bytes = typeof Uint8Array.fromBase64 === "function" ? Uint8Array.fromBase64(b64)
      : new Uint8Array(await (await fetch("data:application/octet-stream;base64," + b64)).arrayBuffer());
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }

  function sections(buf) {
    const view = (Type, name) => {
      const [offset, length] = meta.sections[name];
      return new Type(buf, offset, length / Type.BYTES_PER_ELEMENT);
    };
    // ignoreBOM keeps a leading U+FEFF in the text, so the UTF-16 offsets still line up.
    const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
    return {
      x: view(Uint16Array, "x"), y: view(Uint16Array, "y"), topic: view(Uint16Array, "topic"),
      flags: view(Uint8Array, "flags"),
      titleOff: view(Uint32Array, "title_offsets"), titles: utf8.decode(view(Uint8Array, "titles")),
      idOff: view(Uint32Array, "id_offsets"), ids: utf8.decode(view(Uint8Array, "ids")),
    };
  }
  const titleOf = (i) => D.titles.substring(D.titleOff[i], D.titleOff[i + 1]);
  const idOf = (i) => D.ids.substring(D.idOff[i], D.idOff[i + 1]);
  const linkOf = (i) => meta.link_template == null ? null : meta.link_template.split("{id}").join(idOf(i));
  // id -> point through an open-addressing table of FNV-1a hashes, built on first use: no string
  // per point, one Int32Array of 2-4 n slots (the live page looks up the ids a server returns).
  let idTable = null;
  function fnv(text, a, b) {
    let h = 2166136261;
    for (let j = a; j < b; j++) h = Math.imul(h ^ text.charCodeAt(j), 16777619);
    return h >>> 0;
  }
  function indexOfId(id) {
    if (!idTable) {
      let slots = 2;
      while (slots < 2 * n) slots <<= 1;
      idTable = new Int32Array(slots).fill(-1);
      for (let i = 0; i < n; i++) {
        let at = fnv(D.ids, D.idOff[i], D.idOff[i + 1]) & (slots - 1);
        while (idTable[at] >= 0) at = (at + 1) & (slots - 1);
        idTable[at] = i;
      }
    }
    const mask = idTable.length - 1;
    for (let at = fnv(id, 0, id.length) & mask; idTable[at] >= 0; at = (at + 1) & mask) {
      if (idOf(idTable[at]) === id) return idTable[at];
    }
    return -1;
  }

  // ---- View: layout units <-> CSS pixels of the map area -------------------------------------

  function fitHome() {
    const pad = 24;
    const s = Math.min(spanX > 0 ? (size.w - 2 * pad) / spanX : Infinity,
      spanY > 0 ? (size.h - 2 * pad) / spanY : Infinity);
    return { cx: B[0] + spanX / 2, cy: B[1] + spanY / 2, s: isFinite(s) && s > 0 ? s : 1 };
  }
  const zoom = () => view.s / home.s;
  // CSS pixel of a quantised coordinate: px = qx * ax + bx, py = qy * ay + by (y flipped).
  const transform = () => ({
    ax: spanX / Q * view.s, bx: size.w / 2 + (B[0] - view.cx) * view.s,
    ay: -spanY / Q * view.s, by: size.h / 2 + (view.cy - B[1]) * view.s,
  });
  const toScreen = (x, y) => [size.w / 2 + (x - view.cx) * view.s, size.h / 2 - (y - view.cy) * view.s];

  function zoomAt(px, py, factor) {
    const s = Math.min(Math.max(view.s * factor, home.s * 0.5), home.s * 256);
    const x = view.cx + (px - size.w / 2) / view.s, y = view.cy - (py - size.h / 2) / view.s;
    view = { cx: x - (px - size.w / 2) / s, cy: y + (py - size.h / 2) / s, s };
    requestDraw();
  }
  // Points grow a little as one zooms in; dense maps start with smaller points.
  function pointSize() {
    const base = Math.min(6, Math.max(1.6, 0.8 * Math.sqrt(size.w * size.h / Math.max(n, 1))));
    return Math.min(base * Math.pow(zoom(), 0.4), 14);
  }
  // Transparent enough that dense regions read as denser, opaque enough to see single points.
  const baseAlpha = () => n > 100000 ? 0.5 : n > 10000 ? 0.65 : 0.8;

  // Everything a renderer needs for one frame, in device pixels.
  function frame() {
    const t = transform(), d = size.dpr;
    return {
      w: Math.round(size.w * d), h: Math.round(size.h * d),
      ax: t.ax * d, bx: t.bx * d, ay: t.ay * d, by: t.by * d,
      size: pointSize() * d, alpha: baseAlpha(), mask: markMask,
    };
  }

  // ---- Renderers: draw(frame) paints; drawn(frame) says how many points landed on screen -----

  const VERTEX_SHADER = `#version 300 es
    in float a_x; in float a_y; in uint a_topic; in uint a_mark;
    uniform vec4 u_xform; uniform float u_size; uniform float u_alpha;
    uniform uint u_mask; uniform int u_pass; uniform sampler2D u_topics;
    out vec4 v_colour; flat out int v_ring;
    void main() {
      vec4 t = texelFetch(u_topics, ivec2(int(a_topic % 256u), int(a_topic / 256u)), 0);
      // Hidden topic (alpha 0): put the vertex outside the clip volume, so it is never drawn.
      if (t.a < 0.5) { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); gl_PointSize = 1.0; return; }
      gl_Position = vec4(a_x * u_xform.x + u_xform.y, a_y * u_xform.z + u_xform.w, 0.0, 1.0);
      bool lit = (a_mark & u_mask) != 0u;
      v_colour = vec4(t.rgb, u_mask == 0u ? u_alpha : (lit ? 1.0 : u_alpha * 0.15));
      gl_PointSize = u_pass == 1 ? max(u_size + 3.0, 7.0) : u_size;
      // Pass 1 redraws highlighted points with a ring: dark for search hits and the focused
      // point, orange for today's papers, red for 'added'.
      uint m = a_mark & u_mask;
      v_ring = u_pass == 1 ? ((m & 9u) != 0u ? 1 : (m & 4u) != 0u ? 3 : 2) : 0;
    }`;
  const FRAGMENT_SHADER = `#version 300 es
    precision mediump float;
    in vec4 v_colour; flat in int v_ring; out vec4 o;
    void main() {
      vec2 p = gl_PointCoord * 2.0 - 1.0; float r = dot(p, p);
      if (r > 1.0) discard;
      vec3 ring = v_ring == 1 ? vec3(0.1) : v_ring == 3 ? vec3(0.95, 0.55, 0.0) : vec3(0.85, 0.1, 0.1);
      o = vec4(v_ring > 0 && r > 0.4 ? ring : v_colour.rgb, v_colour.a);
    }`;

  function webglRenderer(canvas) {
    const gl = canvas.getContext("webgl2", { antialias: false, alpha: false, depth: false });
    if (!gl) return null;
    const prog = gl.createProgram();
    for (const [type, src] of [[gl.VERTEX_SHADER, VERTEX_SHADER], [gl.FRAGMENT_SHADER, FRAGMENT_SHADER]]) {
      const s = gl.createShader(type);
      gl.shaderSource(s, src);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
      gl.attachShader(prog, s);
    }
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
    gl.useProgram(prog);
    const u = {};
    for (const name of ["u_xform", "u_size", "u_alpha", "u_mask", "u_pass", "u_topics"]) {
      u[name] = gl.getUniformLocation(prog, name);
    }
    gl.bindVertexArray(gl.createVertexArray());
    // The u16 arrays go to the GPU as they are: x/y normalised to 0..1, topic/mark as integers.
    const attribute = (name, data, type, asInteger, usage) => {
      const loc = gl.getAttribLocation(prog, name), buf = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, data, usage || gl.STATIC_DRAW);
      gl.enableVertexAttribArray(loc);
      if (asInteger) gl.vertexAttribIPointer(loc, 1, type, 0, 0);
      else gl.vertexAttribPointer(loc, 1, type, true, 0, 0);
      return buf;
    };
    attribute("a_x", D.x, gl.UNSIGNED_SHORT, false);
    attribute("a_y", D.y, gl.UNSIGNED_SHORT, false);
    attribute("a_topic", D.topic, gl.UNSIGNED_SHORT, true);
    const markBuf = attribute("a_mark", marks, gl.UNSIGNED_BYTE, true, gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, gl.createBuffer()); // indices of highlighted points
    // Topic colours and visibility: one RGBA texel per topic, 256 per row.
    const rows = Math.max(1, Math.ceil(topics.length / 256)), texels = new Uint8Array(256 * rows * 4);
    gl.bindTexture(gl.TEXTURE_2D, gl.createTexture());
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    return {
      kind: "webgl",
      setTopics() {
        topicRGB.forEach((rgb, i) => { texels.set(rgb, i * 4); texels[i * 4 + 3] = topicOn[i] ? 255 : 0; });
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, 256, rows, 0, gl.RGBA, gl.UNSIGNED_BYTE, texels);
      },
      setMarks() {
        gl.bindBuffer(gl.ARRAY_BUFFER, markBuf);
        gl.bufferSubData(gl.ARRAY_BUFFER, 0, marks);
        gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, highlighted, gl.DYNAMIC_DRAW);
      },
      draw(f) {
        gl.viewport(0, 0, f.w, f.h);
        gl.clearColor(1, 1, 1, 1);
        gl.clear(gl.COLOR_BUFFER_BIT);
        gl.uniform4f(u.u_xform, 2 * Q * f.ax / f.w, 2 * f.bx / f.w - 1, -2 * Q * f.ay / f.h, 1 - 2 * f.by / f.h);
        gl.uniform1f(u.u_size, f.size);
        gl.uniform1f(u.u_alpha, f.alpha);
        gl.uniform1ui(u.u_mask, f.mask);
        gl.uniform1i(u.u_pass, 0);
        gl.drawArrays(gl.POINTS, 0, n);
        if (f.mask && highlighted.length) {
          gl.uniform1i(u.u_pass, 1);
          gl.drawElements(gl.POINTS, highlighted.length, gl.UNSIGNED_INT, 0);
        }
      },
      // The GPU does not say how many points it rasterised; count the ones the shader keeps.
      drawn: countOnScreen,
      finish() { gl.finish(); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4)); },
    };
  }

  function countOnScreen(f) {
    let c = 0;
    for (let i = 0; i < n; i++) {
      if (!topicOn[D.topic[i]]) continue;
      const px = D.x[i] * f.ax + f.bx, py = D.y[i] * f.ay + f.by;
      if (px >= 0 && px < f.w && py >= 0 && py < f.h) c++;
    }
    return c;
  }

  function canvasRenderer(canvas) {
    const ctx = canvas.getContext("2d");
    let count = 0;
    // Blend a square of side sz centred at (px, py) into the RGBA pixels d, clipped to the frame.
    function square(d, f, px, py, sz, rgb, a) {
      const left = Math.round(px - sz / 2), top = Math.round(py - sz / 2);
      const x0 = Math.max(0, left), x1 = Math.min(f.w, left + sz), y1 = Math.min(f.h, top + sz);
      for (let y = Math.max(0, top); y < y1; y++) {
        for (let o = (y * f.w + x0) * 4, e = (y * f.w + x1) * 4; o < e; o += 4) {
          d[o] += (rgb[0] - d[o]) * a;
          d[o + 1] += (rgb[1] - d[o + 1]) * a;
          d[o + 2] += (rgb[2] - d[o + 2]) * a;
        }
      }
    }
    return {
      kind: "canvas",
      setTopics() {},
      setMarks() {},
      draw(f) {
        const img = ctx.createImageData(f.w, f.h), d = img.data;
        d.fill(255);
        const sz = Math.max(1, Math.round(f.size)), dim = f.alpha * 0.15, x = D.x, y = D.y, t = D.topic;
        count = 0;
        for (let i = 0; i < n; i++) {
          if (!topicOn[t[i]]) continue;
          const px = x[i] * f.ax + f.bx, py = y[i] * f.ay + f.by;
          if (px < 0 || px >= f.w || py < 0 || py >= f.h) continue;
          count++;
          square(d, f, px, py, sz, topicRGB[t[i]], f.mask === 0 ? f.alpha : marks[i] & f.mask ? 1 : dim);
        }
        // Highlighted points again, on top, in a ring (the colours of the WebGL shader).
        const ring = Math.max(sz + 2, 6);
        for (const i of f.mask ? highlighted : []) {
          if (!topicOn[t[i]]) continue;
          const px = x[i] * f.ax + f.bx, py = y[i] * f.ay + f.by, m = marks[i] & f.mask;
          square(d, f, px, py, ring, m & (HIT | FOCUS) ? [25, 25, 25] : m & TODAY ? [242, 140, 0] : [217, 25, 25], 1);
          square(d, f, px, py, ring - 2, topicRGB[t[i]], 1);
        }
        ctx.putImageData(img, 0, 0);
      },
      drawn: () => count,
      finish() { ctx.getImageData(0, 0, 1, 1); },
    };
  }

  // WebGL2 when the browser offers it, else Canvas2D on a fresh canvas (a canvas that handed out
  // a WebGL context cannot give a 2D one). `?renderer=canvas` in the URL forces the fallback.
  function makeRenderer() {
    if (!/[?&]renderer=canvas\b/.test(location.search)) {
      try {
        const r = webglRenderer(ui.canvas);
        if (r) return r;
      } catch (err) {
        console.warn("WebGL failed, drawing with Canvas2D instead:", err);
      }
      const fresh = ui.canvas.cloneNode(false);
      ui.canvas.replaceWith(fresh);
      ui.canvas = fresh;
    }
    return canvasRenderer(ui.canvas);
  }

  // ---- Spatial index: uniform grid over the u16 coordinates, filled by a counting sort --------

  function buildGrid() {
    const g = Math.max(1, Math.min(1024, Math.round(Math.sqrt(n / 8)))); // ~8 points a cell
    const start = new Uint32Array(g * g + 1), items = new Uint32Array(n);
    const cell = (i) => ((D.y[i] * g) >>> 16) * g + ((D.x[i] * g) >>> 16);
    for (let i = 0; i < n; i++) start[cell(i) + 1]++;
    for (let c = 0; c < g * g; c++) start[c + 1] += start[c];
    const next = start.slice(0, g * g);
    for (let i = 0; i < n; i++) items[next[cell(i)]++] = i;
    return { g, start, items };
  }

  // Nearest visible point within a few pixels of (cssX, cssY), looking only at the grid cells
  // that circle touches. While a highlight is on, highlighted points win: they are drawn on top.
  function pick(cssX, cssY) {
    if (!grid || n === 0) return null;
    const t = transform(), r = Math.max(6, pointSize() / 2 + 3), g = grid.g;
    // (A zero span, e.g. a single point, makes a coefficient 0: then search that axis whole.)
    const qx = t.ax ? (cssX - t.bx) / t.ax : 0, rx = t.ax ? r / Math.abs(t.ax) : Infinity;
    const qy = t.ay ? (cssY - t.by) / t.ay : 0, ry = t.ay ? r / Math.abs(t.ay) : Infinity;
    const cellOf = (q) => Math.min(g - 1, Math.max(0, Math.floor(q * g / 65536)));
    let best = -1, bestKey = Infinity;
    for (let row = cellOf(qy - ry); row <= cellOf(qy + ry); row++) {
      for (let col = cellOf(qx - rx); col <= cellOf(qx + rx); col++) {
        const c = row * g + col;
        for (let j = grid.start[c]; j < grid.start[c + 1]; j++) {
          const i = grid.items[j];
          if (!topicOn[D.topic[i]]) continue;
          const dx = D.x[i] * t.ax + t.bx - cssX, dy = D.y[i] * t.ay + t.by - cssY, d2 = dx * dx + dy * dy;
          if (d2 > r * r) continue;
          const key = d2 + (markMask && !(marks[i] & markMask) ? 1e6 : 0);
          if (key < bestKey || (key === bestKey && i < best)) { best = i; bestKey = key; }
        }
      }
    }
    if (best < 0) return null;
    const dx = D.x[best] * t.ax + t.bx - cssX, dy = D.y[best] * t.ay + t.by - cssY;
    return { index: best, distance: Math.hypot(dx, dy) };
  }

  // ---- Search: one lower-cased copy of all titles, indexOf + binary search over offsets -------

  let lowered = null;
  function lowerIndex() {
    if (lowered) return lowered;
    const text = D.titles.toLowerCase();
    // Lower-casing the whole text equals lower-casing each title only if no length changes and
    // there is no capital sigma (its lower case depends on the next letter: the next title's).
    if (text.length === D.titles.length && D.titles.indexOf("\u03a3") < 0) {
      lowered = { text, off: D.titleOff };
    } else {
      const parts = new Array(n), off = new Uint32Array(n + 1);
      for (let i = 0; i < n; i++) {
        parts[i] = titleOf(i).toLowerCase();
        off[i + 1] = off[i] + parts[i].length;
      }
      lowered = { text: parts.join(""), off };
    }
    return lowered;
  }
  // The title whose text holds position p: the last i with off[i] <= p.
  function titleAt(off, p) {
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (off[mid] <= p) lo = mid; else hi = mid - 1;
    }
    return lo;
  }
  function findMatches(q) {
    const { text, off } = lowerIndex(), out = [];
    let p = text.indexOf(q);
    while (p >= 0) {
      const i = titleAt(off, p);
      if (p + q.length <= off[i + 1]) { // inside title i: take it, go on after it
        out.push(i);
        p = text.indexOf(q, off[i + 1]);
      } else {                          // runs into the next title: not a match
        p = text.indexOf(q, p + 1);
      }
    }
    return Uint32Array.from(out);
  }

  // Rings `points` as search hits and shows `text` beside the search box.
  function setHits(points, text) {
    for (const i of hits) marks[i] &= ~HIT;
    hits = Uint32Array.from(points).sort();
    for (const i of hits) marks[i] |= HIT;
    ui.count.textContent = text;
    updateHighlight();
  }
  function runSearch() {
    const q = ui.search.value.trim();
    // A live page asks the server (by meaning); a static one matches titles.
    if (live) return live.search(q);
    const found = q === "" ? new Uint32Array(0) : findMatches(q.toLowerCase());
    setHits(found, q === "" ? "" : found.length + (found.length === 1 ? " match" : " matches"));
  }
  // Large maps (and live pages) search when typing pauses; flush() runs a pending search now and
  // returns its promise (a live search answers asynchronously).
  let searchTimer = 0;
  function onSearchInput() {
    clearTimeout(searchTimer);
    if (n <= 200000 && !live) runSearch(); else searchTimer = setTimeout(runSearch, live ? 300 : 200);
  }
  onSearchInput.flush = async () => { clearTimeout(searchTimer); await runSearch(); };

  // Which marks highlight a point now, and the list of those points (drawn again, on top).
  function updateHighlight() {
    markMask = (ui.search.value.trim() !== "" ? HIT : 0) | (ui.added.checked ? ADDED : 0)
      | (ui.today.checked ? TODAY : 0) | (focused >= 0 ? FOCUS : 0);
    const list = [];
    if (markMask) for (let i = 0; i < n; i++) if (marks[i] & markMask) list.push(i);
    highlighted = Uint32Array.from(list);
    if (renderer) renderer.setMarks();
    requestDraw();
  }

  // ---- Labels: greedy, largest first, never overlapping --------------------------------------

  const GROUP_ZOOM = 2.5; // below this zoom the map shows group labels (if there are groups)
  const MIN_AREA = 6000;  // a topic gets a label once its points cover about this many px²
  const FONTS = { groups: "bold 14px system-ui, sans-serif", topics: "bold 12px system-ui, sans-serif" };
  const widths = new Map();

  // Zoomed out: groups with a visible topic. Zoomed in: visible topics big enough on screen, so
  // that finer topics join in as one zooms further.
  function labelCandidates() {
    if (groups.length && zoom() < GROUP_ZOOM) {
      return { kind: "groups", items: groups.filter((g) => g.topics.some((t) => topicOn[t])) };
    }
    const plotArea = (spanX > 0 ? spanX * view.s : size.w) * (spanY > 0 ? spanY * view.s : size.h);
    return { kind: "topics", items: topics.filter((t) => topicOn[t.id] && t.size / Math.max(n, 1) * plotArea >= MIN_AREA) };
  }

  function layoutLabels(ctx) {
    const { kind, items } = labelCandidates(), font = FONTS[kind], h = kind === "groups" ? 18 : 15;
    ctx.font = font;
    const placed = [];
    for (const item of items.slice().sort(bySize)) {
      const text = item.label.length > 48 ? item.label.slice(0, 47) + "\u2026" : item.label;
      const key = font + "|" + text;
      if (!widths.has(key)) widths.set(key, ctx.measureText(text).width + 6);
      const w = widths.get(key), [px, py] = toScreen(item.centre[0], item.centre[1]);
      if (px < 0 || px > size.w || py < 0 || py > size.h) continue;
      // Shifted, if need be, to lie wholly inside the map area.
      const x0 = Math.min(Math.max(px - w / 2, 2), size.w - w - 2), y0 = Math.min(Math.max(py - h / 2, 2), size.h - h - 2);
      const box = { x0, y0, x1: x0 + w, y1: y0 + h, text, rgb: parseColour(item.colour) };
      if (!placed.some((b) => overlap(b, box))) placed.push(box);
    }
    return { kind, boxes: placed };
  }
  const overlap = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

  function drawLabels() {
    const ctx = ui.labels.getContext("2d");
    ctx.setTransform(size.dpr, 0, 0, size.dpr, 0, 0);
    ctx.clearRect(0, 0, size.w, size.h);
    lastLabels = layoutLabels(ctx);
    Object.assign(ctx, { textAlign: "center", textBaseline: "middle", lineJoin: "round", lineWidth: 4,
      strokeStyle: "rgba(255,255,255,0.92)" });
    for (const b of lastLabels.boxes) {
      const x = (b.x0 + b.x1) / 2, y = (b.y0 + b.y1) / 2;
      ctx.strokeText(b.text, x, y); // the white halo
      ctx.fillStyle = darker(b.rgb);
      ctx.fillText(b.text, x, y);
    }
  }

  function labelSummary({ kind, boxes }) {
    let overlaps = 0;
    boxes.forEach((a, i) => { for (const b of boxes.slice(i + 1)) if (overlap(a, b)) overlaps++; });
    return { kind, shown: boxes.length, overlaps };
  }

  // ---- Side panel: topics under their groups, with toggles -----------------------------------

  const topicBoxes = [];
  // A DOM element with the given properties and children.
  function el(tag, props, ...children) {
    const e = Object.assign(document.createElement(tag), props);
    e.append(...children);
    return e;
  }
  const checkbox = () => el("input", { type: "checkbox", checked: true });
  const swatch = (colour) => el("span", { className: "swatch", style: "background:" + colour });
  const sizeOf = (v) => el("span", { className: "size", textContent: fmt(v) });

  function topicRow(t) {
    const box = topicBoxes[t.id] = checkbox();
    box.dataset.topic = t.id;
    box.addEventListener("change", () => setTopic(t.id, box.checked));
    return el("label", { className: "topic" }, box, swatch(t.colour), el("span", { textContent: t.label }),
      sizeOf(t.size), el("div", { className: "kw", textContent: (t.keywords || []).join(", ") }));
  }
  // A group heading whose checkbox toggles all its topics at once, then the topics.
  function groupSection(label, colour, members) {
    const box = checkbox(), total = members.reduce((s, t) => s + t.size, 0);
    const head = el("label", { className: "group-head" }, box, swatch(colour), el("span", { textContent: label }), sizeOf(total));
    const sec = el("section", { className: "group" }, head, ...members.slice().sort(bySize).map(topicRow));
    box.addEventListener("change", () => members.forEach((t) => {
      topicBoxes[t.id].checked = box.checked;
      setTopic(t.id, box.checked);
    }));
    sec.addEventListener("change", () => {
      const on = members.filter((t) => topicOn[t.id]).length;
      box.checked = on === members.length;
      box.indeterminate = on > 0 && on < members.length;
    });
    return sec;
  }
  function buildPanel() {
    if (!groups.length) return ui.aside.append(...topics.slice().sort(bySize).map(topicRow));
    const listed = new Set(groups.flatMap((g) => g.topics));
    const rest = topics.filter((t) => !listed.has(t.id));
    ui.aside.append(...groups.slice().sort(bySize).map((g) => groupSection(g.label, g.colour, g.topics.map((id) => topics[id]))));
    if (rest.length) ui.aside.append(groupSection("Other", "#999", rest));
  }
  // The list (e.g. today's papers, best first): hovering an item rings its point, clicking it
  // zooms the map there. One DOM node per item: lists are short, unlike the points.
  // showList(null) hides the panel; a live page shows search hits and related papers here too.
  const listRows = [];
  function showList(list) {
    ui.list.replaceChildren();
    listRows.length = 0;
    ui.list.hidden = !list;
    if (!list) return;
    const items = list.items.filter((it) => it.point >= 0 && it.point < n);
    ui.list.append(el("h2", { textContent: list.title }));
    const ol = el("ol");
    for (const it of items) {
      const i = it.point, t = topics[D.topic[i]], url = linkOf(i);
      const title = url ? el("a", { href: url, target: "_blank", rel: "noopener", textContent: titleOf(i) })
        : el("span", { textContent: titleOf(i) });
      const li = el("li", {}, el("span", { className: "score", textContent: Number(it.score).toFixed(2) }),
        t ? swatch(t.colour) : "", title,
        ...(it.details || []).map((line) => el("div", { className: "detail", textContent: line })));
      li.dataset.point = i;
      li.addEventListener("mouseenter", () => focus(i));
      li.addEventListener("mouseleave", () => focus(-1));
      li.addEventListener("click", (e) => { if (e.target.tagName !== "A") centreOn(i); });
      listRows.push(li);
      ol.append(li);
    }
    ui.list.append(ol);
  }
  function focus(i) {
    if (focused >= 0) marks[focused] &= ~FOCUS;
    focused = i;
    if (i >= 0) marks[i] |= FOCUS;
    updateHighlight();
  }
  // Centres the view on point i, zoomed in at least 4x, and focuses it.
  function centreOn(i) {
    const x = B[0] + D.x[i] / Q * spanX, y = B[1] + D.y[i] / Q * spanY;
    view = { cx: x, cy: y, s: Math.max(view.s, home.s * 4) };
    focus(i);
  }

  function setTopic(id, on) {
    topicOn[id] = on ? 1 : 0;
    if (renderer) renderer.setTopics();
    requestDraw();
  }

  // ---- Drawing -------------------------------------------------------------------------------

  let drawPending = false;
  function requestDraw() {
    if (drawPending || !renderer) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; drawNow(); });
  }
  function drawNow() {
    const f = frame();
    renderer.draw(f);
    drawLabels();
    return f;
  }

  // Canvas sizes follow the map area; the view keeps its centre and relative zoom. Says whether
  // anything changed: assigning a canvas's width clears it, even to the same value.
  let sized = false;
  function resize() {
    const r = ui.map.getBoundingClientRect(), d = window.devicePixelRatio || 1, rel = zoom();
    const w = Math.max(1, r.width), h = Math.max(1, r.height);
    if (sized && w === size.w && h === size.h && d === size.dpr) return false;
    size = { w, h, dpr: d };
    for (const c of [ui.canvas, ui.labels]) {
      c.width = Math.round(w * d);
      c.height = Math.round(h * d);
    }
    home = fitHome();
    view = sized ? { cx: view.cx, cy: view.cy, s: home.s * rel } : home;
    sized = true;
    return true;
  }
  function resetView() {
    view = home;
    requestDraw();
  }

  // ---- Interaction ---------------------------------------------------------------------------

  let drag = null, hover = null;
  function local(e) {
    const r = ui.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }
  function showTooltip(e, p) {
    hover = p;
    ui.tooltip.hidden = !p;
    ui.canvas.style.cursor = p && meta.link_template != null ? "pointer" : "";
    if (!p) return;
    ui.tooltip.textContent = titleOf(p.index);
    const tw = ui.tooltip.offsetWidth, th = ui.tooltip.offsetHeight;
    // Beside the cursor, on whichever side keeps it inside the window.
    let x = e.clientX + 14, y = e.clientY + 14;
    if (x + tw > window.innerWidth - 4) x = e.clientX - tw - 10;
    if (y + th > window.innerHeight - 4) y = e.clientY - th - 10;
    ui.tooltip.style.left = x + "px";
    ui.tooltip.style.top = y + "px";
  }
  function onPointerMove(e) {
    const [x, y] = local(e);
    if (drag) {
      const dx = x - drag.at[0], dy = y - drag.at[1];
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        view = { cx: drag.view.cx - dx / view.s, cy: drag.view.cy + dy / view.s, s: view.s };
        ui.tooltip.hidden = true;
        return requestDraw();
      }
    }
    showTooltip(e, pick(x, y));
  }
  // A press and release without dragging is a click: open the point under the cursor (a live
  // page lists its related papers instead; `picked` is that answer's promise).
  let picked = null;
  function onPointerUp(e) {
    const d = drag;
    drag = null;
    if (!d || d.moved) return;
    const p = pick(...local(e));
    if (p && live) return void (picked = live.pick(p.index));
    const url = p ? linkOf(p.index) : null;
    if (url) window.open(url, "_blank", "noopener");
  }
  function wire() {
    const c = ui.canvas;
    c.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { at: local(e), view, moved: false };
      try { c.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events cannot capture */ }
    });
    c.addEventListener("pointermove", onPointerMove);
    c.addEventListener("pointerup", onPointerUp);
    c.addEventListener("pointercancel", () => { drag = null; });
    c.addEventListener("pointerleave", () => { if (!drag) showTooltip(null, null); });
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      zoomAt(...local(e), Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)));
    }, { passive: false });
    // Double-click resets the view, except on a point (whose first click already opened it).
    c.addEventListener("dblclick", (e) => { if (!pick(...local(e))) resetView(); });
    $("zoom-in").addEventListener("click", () => zoomAt(size.w / 2, size.h / 2, 1.6));
    $("zoom-out").addEventListener("click", () => zoomAt(size.w / 2, size.h / 2, 1 / 1.6));
    $("zoom-reset").addEventListener("click", resetView);
    ui.search.addEventListener("input", onSearchInput);
    ui.added.addEventListener("change", updateHighlight);
    ui.today.addEventListener("change", updateHighlight);
    // Redraw at once: resized canvases are blank until then.
    new ResizeObserver(() => { if (resize()) drawNow(); }).observe(ui.map);
  }

  // ---- Self-check ----------------------------------------------------------------------------

  // Drives the page through the same handlers a user's events reach, and reports what happened.
  async function selfCheck(query, first) {
    const out = { renderer: renderer.kind, points: n, drawn: first.drawn, first_render_ms: Math.round(first.ms), query };
    const listIds = () => listRows.map((li) => idOf(Number(li.dataset.point)));
    out.list_ids = meta.list ? listIds() : null;
    out.list_click = null;
    if (listRows.length) {
      listRows[0].dispatchEvent(new MouseEvent("click", { bubbles: true }));
      const i = Number(listRows[0].dataset.point), [px, py] = toScreen(B[0] + D.x[i] / Q * spanX, B[1] + D.y[i] / Q * spanY);
      out.list_click = { index: i, focused: focused === i,
        centred: Math.abs(px - size.w / 2) < 1 && Math.abs(py - size.h / 2) < 1 };
      focus(-1);
      view = home;
      drawNow();
    }

    out.live = !!live;
    ui.search.value = query;
    ui.search.dispatchEvent(new Event("input", { bubbles: true }));
    await onSearchInput.flush();
    out.hit_count = hits.length;
    out.hit_ids = hits.length <= 10000 ? Array.from(hits, idOf).sort() : null;
    out.count_text = ui.count.textContent;
    if (live) out.search_list_ids = listIds();
    ui.search.value = "";
    await onSearchInput.flush();

    out.hover = out.opened = null;
    if (n > 0) {
      const r = ui.canvas.getBoundingClientRect(), t = transform();
      const at = { clientX: r.left + D.x[0] * t.ax + t.bx, clientY: r.top + D.y[0] * t.ay + t.by,
        bubbles: true, pointerId: 1, pointerType: "mouse", isPrimary: true, button: 0 };
      ui.canvas.dispatchEvent(new PointerEvent("pointermove", at));
      out.hover = { index: hover ? hover.index : null, tooltip: ui.tooltip.hidden ? null : ui.tooltip.textContent,
        distance_px: hover ? Math.round(hover.distance * 1000) / 1000 : null };
      const realOpen = window.open;
      window.open = (url) => { out.opened = url; return null; };
      try {
        ui.canvas.dispatchEvent(new PointerEvent("pointerdown", at));
        ui.canvas.dispatchEvent(new PointerEvent("pointerup", at));
      } finally { window.open = realOpen; }
      showTooltip(null, null);
      if (live) {
        await picked;
        out.related = { for: out.hover.index != null ? idOf(out.hover.index) : null, focused: focused >= 0 ? idOf(focused) : null,
          list_ids: listIds(), details: listRows.map((li) => Array.from(li.querySelectorAll(".detail"), (d) => d.textContent)) };
        focus(-1);
        showList(meta.list || null);
      }
    }

    if (topicBoxes[0]) {
      topicBoxes[0].click();
      out.visible_after_toggle = renderer.drawn(drawNow());
      topicBoxes[0].click();
      out.visible_after_untoggle = renderer.drawn(drawNow());
    }

    out.labels_initial = labelSummary(lastLabels);
    const largest = topics.slice().sort(bySize)[0];
    if (largest) {
      view = { cx: largest.centre[0], cy: largest.centre[1], s: home.s * 8 };
      drawNow();
      out.labels_zoomed = labelSummary(lastLabels);
      view = home;
    }

    ui.added.click();
    out.added_highlighted = markMask & ADDED ? highlighted.filter((i) => marks[i] & ADDED).length : 0;
    ui.added.click();

    // Today's papers are highlighted from the start; count the ringed ones with nothing else on.
    const todayWasOn = ui.today.checked;
    if (!todayWasOn) ui.today.click();
    out.today_highlighted = markMask === TODAY ? highlighted.length : 0;
    if (!todayWasOn) ui.today.click();
    drawNow();
    report(out);
  }
  function report(out) {
    window.papermapSelfCheck = out;
    const pre = $("papermap-selfcheck");
    pre.textContent = JSON.stringify(out);
    pre.hidden = false;
  }

  // ---- Start ---------------------------------------------------------------------------------

  // Headless Chromium's --virtual-time-budget (tests, screenshot_map.sh) stops waiting as soon as
  // the page idles with no timer pending, which happens between decode steps. A short timer kept
  // pending until the first frame (and any self-check) is done makes it wait for them.
  let loading = true;
  (function keepAlive() { if (loading) setTimeout(keepAlive, 5); })();

  async function start() {
    if (meta.version !== 3) throw new Error(`page format version ${meta.version}, this script reads 3`);
    $("heading").textContent = meta.title;
    ui.status.textContent = `Decoding ${fmt(n)} points\u2026`;
    buildPanel();
    if (meta.added > 0) {
      ui.addedText.textContent = `added since the map was made (${fmt(meta.added)})`;
      ui.addedToggle.hidden = false;
    }
    if (meta.today > 0) {
      ui.todayText.textContent = `${meta.api ? "new this session" : "today's papers"} (${fmt(meta.today)})`;
      ui.todayToggle.hidden = false;
      ui.today.checked = true;
    }
    D = sections(await decodeBlob());
    for (let i = 0; i < n; i++) marks[i] |= (D.flags[i] & 1 ? ADDED : 0) | (D.flags[i] & 2 ? TODAY : 0);
    showList(meta.list || null);
    if (meta.api && window.papermapLive) {
      live = window.papermapLive({ meta, api: meta.api, idOf, titleOf, indexOfId, setHits, showList, focus,
        setCount: (text) => { ui.count.textContent = text; } });
      ui.search.placeholder = "Search by meaning";
      ui.search.setAttribute("aria-label", "Search papers by meaning");
    }
    grid = buildGrid();
    resize();
    renderer = makeRenderer();
    renderer.setTopics();
    updateHighlight();
    wire();
    const f = drawNow();
    renderer.finish();
    const first = { ms: performance.now(), drawn: renderer.drawn(f) };
    ui.status.hidden = true;
    const m = /^#selfcheck=(.*)$/.exec(location.hash);
    if (m) await selfCheck(decodeURIComponent(m[1]), first);
  }

  start().catch((err) => {
    ui.status.hidden = false;
    ui.status.textContent = "The map could not be drawn: " + err;
    if (/^#selfcheck=/.test(location.hash)) report({ error: String((err && err.stack) || err) });
  }).finally(() => { loading = false; });
})();
