// papermap topic map: draws the embedded data and wires hover, click, search and topic toggles.
// Runs with no network. With `#selfcheck=<query>` in the URL it exercises those features and
// writes what it saw into #papermap-selfcheck as JSON (read by the headless-browser test).
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("papermap-data").textContent);
  var svg = document.getElementById("map");
  var tooltip = document.getElementById("tooltip");
  var search = document.getElementById("search");
  var count = document.getElementById("count");
  var aside = document.getElementById("topics");
  svg.setAttribute("viewBox", "0 0 " + data.width + " " + data.height);
  svg.setAttribute("width", data.width);
  svg.setAttribute("height", data.height);

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    parent.appendChild(e);
    return e;
  }

  var colour = {};
  data.topics.forEach(function (t) { colour[t.id] = t.colour; });
  var layer = el("g", {}, svg);
  var circles = data.points.map(function (p, i) {
    var c = el("circle", { cx: p.x, cy: p.y, r: 3, fill: colour[p.topic], "class": "pt" }, layer);
    c.dataset.i = i;
    c.dataset.topic = p.topic;
    return c;
  });
  var labels = el("g", {}, svg);
  var labelEls = {};
  data.topics.forEach(function (t) {
    if (!t.label_at) return;
    var g = el("g", {}, labels);
    if (Math.hypot(t.label_at[0] - t.anchor[0], t.label_at[1] - t.anchor[1]) > 1) {
      el("line", { x1: t.anchor[0], y1: t.anchor[1], x2: t.label_at[0], y2: t.label_at[1],
        "class": "leader" }, g);
    }
    var text = el("text", { x: t.label_at[0], y: t.label_at[1], "text-anchor": "middle",
      "dominant-baseline": "central", fill: t.colour, "class": "label" }, g);
    text.textContent = t.label;
    labelEls[t.id] = g;
  });

  function pointOf(e) {
    var i = e.target && e.target.dataset ? e.target.dataset.i : undefined;
    return i === undefined ? null : data.points[+i];
  }
  svg.addEventListener("mouseover", function (e) {
    var p = pointOf(e);
    if (!p) return;
    tooltip.textContent = p.title;
    tooltip.hidden = false;
    tooltip.style.left = (e.clientX + 12) + "px";
    tooltip.style.top = (e.clientY + 12) + "px";
  });
  svg.addEventListener("mouseout", function () { tooltip.hidden = true; });
  svg.addEventListener("click", function (e) {
    var p = pointOf(e);
    if (p && p.link) window.open(p.link, "_blank", "noopener");
  });

  function applySearch() {
    var q = search.value.trim().toLowerCase();
    var hits = 0;
    circles.forEach(function (c, i) {
      var hit = q !== "" && data.points[i].title.toLowerCase().indexOf(q) >= 0;
      c.classList.toggle("hit", hit);
      if (hit) hits++;
    });
    svg.classList.toggle("searching", q !== "");
    count.textContent = q === "" ? "" : hits + (hits === 1 ? " match" : " matches");
  }
  search.addEventListener("input", applySearch);

  var toggles = data.topics.map(function (t) {
    var label = document.createElement("label");
    var box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.dataset.topic = t.id;
    var swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = t.colour;
    label.appendChild(box);
    label.appendChild(swatch);
    label.appendChild(document.createTextNode(t.label + " (" + t.size + ")"));
    var kw = document.createElement("div");
    kw.className = "kw";
    kw.textContent = t.keywords.join(", ");
    label.appendChild(kw);
    aside.appendChild(label);
    box.addEventListener("change", function () {
      circles.forEach(function (c) {
        if (+c.dataset.topic === t.id) c.classList.toggle("off", !box.checked);
      });
      if (labelEls[t.id]) labelEls[t.id].classList.toggle("off", !box.checked);
    });
    return box;
  });

  function visible(c) {
    var r = c.getBoundingClientRect();
    return getComputedStyle(c).display !== "none" && r.width > 0 && r.height > 0;
  }

  function selfCheck(query) {
    var out = {};
    var box = svg.getBoundingClientRect();
    out.rendered = circles.filter(function (c) {
      var r = c.getBoundingClientRect();
      return visible(c) && r.left >= box.left - 1 && r.right <= box.right + 1 &&
        r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    }).length;
    out.circles = svg.querySelectorAll("circle.pt").length;
    out.labels = svg.querySelectorAll("text.label").length;
    search.value = query;
    search.dispatchEvent(new Event("input"));
    out.hits = circles.filter(function (c) { return c.classList.contains("hit"); })
      .map(function (c) { return data.points[+c.dataset.i].id; });
    out.count_text = count.textContent;
    search.value = "";
    search.dispatchEvent(new Event("input"));
    var first = circles[0];
    var at = first.getBoundingClientRect();
    first.dispatchEvent(new MouseEvent("mouseover", { bubbles: true,
      clientX: at.left + 1, clientY: at.top + 1 }));
    out.tooltip = tooltip.hidden ? null : tooltip.textContent;
    first.dispatchEvent(new MouseEvent("mouseout", { bubbles: true }));
    var opened = null;
    var realOpen = window.open;
    window.open = function (url) { opened = url; return null; };
    first.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    window.open = realOpen;
    out.opened = opened;
    toggles[0].click();
    out.visible_after_toggle = circles.filter(visible).length;
    toggles[0].click();
    out.visible_after_untoggle = circles.filter(visible).length;
    var pre = document.getElementById("papermap-selfcheck");
    pre.textContent = JSON.stringify(out);
    pre.hidden = false;
  }
  var m = /^#selfcheck=(.*)$/.exec(location.hash);
  if (m) selfCheck(decodeURIComponent(m[1]));
})();
