// Live mode of the map page (PAGE_FORMAT.md, `api`): the page was served by `papermap serve`,
// so the search box asks the server by meaning and a click lists the clicked paper's related
// papers with the key terms each shares with it. map.js calls this with its few hooks; nothing
// here touches the points directly.
window.papermapLive = (page) => {
  "use strict";
  const SEARCH_K = 50, RELATED_K = 10;
  let latest = 0; // a newer request supersedes an older one's answer

  async function get(path) {
    const res = await fetch(page.api + path, { headers: { Accept: "application/json" } });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error(body && body.error ? body.error.message : `HTTP ${res.status}`);
    return body;
  }
  // Hits as list items; a hit the page does not hold (added after it was drawn) is left out.
  function items(hits) {
    const out = [];
    for (const hit of hits) {
      const point = page.indexOfId(hit.id);
      if (point < 0) continue;
      const details = [];
      if (hit.topic_label) details.push(hit.topic_label);
      if (hit.why && hit.why.length) details.push("shares: " + hit.why.join(", "));
      out.push({ point, score: hit.score, details });
    }
    return out;
  }

  async function search(q) {
    const mine = ++latest;
    if (q === "") {
      page.setHits([], "");
      page.showList(page.meta.list || null);
      return;
    }
    page.setCount("searching\u2026");
    try {
      const body = await get(`/search?q=${encodeURIComponent(q)}&k=${SEARCH_K}&why=true`);
      if (mine !== latest) return;
      const listed = items(body.hits);
      page.setHits(listed.map((it) => it.point), `${listed.length} papers by meaning`);
      page.showList({ title: `About \u201c${q}\u201d`, items: listed });
    } catch (err) {
      if (mine === latest) page.setCount("search failed: " + err.message);
    }
  }

  async function pick(i) {
    const mine = ++latest;
    page.focus(i);
    try {
      const body = await get(`/papers/${encodeURIComponent(page.idOf(i))}/related?k=${RELATED_K}&why=true`);
      if (mine !== latest) return;
      page.showList({ title: `Related to \u201c${page.titleOf(i)}\u201d`, items: items(body.hits) });
    } catch (err) {
      if (mine === latest) page.setCount("related papers failed: " + err.message);
    }
  }

  return { search, pick };
};
