// kg's page script: search, filters, neighbour highlight, side panel, colour modes, co-mention overlay.
// Every string that came from a note is put into the page with textContent or as a DOM property,
// never parsed as markup.
(function () {
  "use strict";
  var D = kgData; // parsed once, by the page's first script
  var N = D.nodes;
  var E = D.edges; // [from index, to index, relation, (count)]
  // Each edge's evidence (a mention's sentences, 0 for other relations), in the order of E: most
  // of the page's bytes, so parsed only when a panel first shows it.
  var evidence = null;
  function evidenceOf(k) {
    if (evidence === null) evidence = JSON.parse(document.getElementById("kg-evidence").textContent);
    return evidence[k] || [];
  }
  var ARTICLE_RELATIONS = { mentions: 1, about: 1, author: 1, source: 1 };
  var KIND_NAMES = {};
  document.querySelectorAll("#kind-filter input").forEach(function (box) {
    KIND_NAMES[box.value] = box.parentNode.textContent.trim();
  });
  var indexOf = new Map();
  N.forEach(function (n, i) { indexOf.set(n.id, i); });
  var outgoing = N.map(function () { return []; });
  var incoming = N.map(function () { return []; });
  E.forEach(function (e, k) { outgoing[e[0]].push(k); incoming[e[1]].push(k); });
  var kindColour = {};
  nodes.get().forEach(function (n) { kindColour[n.id] = n.color; });

  var state = { colourBy: "kind", selected: null, hidden: new Set() };
  window.kg = { data: D, evidence: evidenceOf, state: state, ready: false };
  // The network draws its first frame inside its constructor (physics is off); wait for the
  // browser to put that frame on screen.
  requestAnimationFrame(function () {
    requestAnimationFrame(function () { window.kg.drawnAt = performance.now(); window.kg.ready = true; });
  });

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function norm(s) { return String(s).normalize("NFKC").toLowerCase(); }
  function safeUrl(url) { return /^https?:\/\//i.test(url || "") ? url : null; }

  // ---- colours and highlight -------------------------------------------------------------
  function baseColour(i) {
    return state.colourBy === "community" ? D.community_colours[N[i].community] : kindColour[N[i].id];
  }
  function neighbours(i) {
    var set = new Set([i]);
    outgoing[i].forEach(function (k) { set.add(E[k][1]); });
    incoming[i].forEach(function (k) { set.add(E[k][0]); });
    return set;
  }
  function paint() {
    var near = state.selected === null ? null : neighbours(state.selected);
    var updates = N.map(function (n, i) {
      var dim = near !== null && !near.has(i);
      return { id: n.id, color: dim ? "rgba(200,200,200,0.35)" : baseColour(i), font: { color: dim ? "rgba(120,120,120,0.3)" : "#222" } };
    });
    nodes.update(updates);
  }

  // ---- side panel --------------------------------------------------------------------------
  var panel = document.getElementById("panel");
  function nodeLink(i) {
    var a = el("a", N[i].label, "node-link");
    a.addEventListener("click", function () { focusNode(N[i].id); });
    return a;
  }
  function fact(dl, name, value) {
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) return;
    dl.appendChild(el("dt", name));
    var dd = el("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = Array.isArray(value) ? value.join("、") : String(value);
    dl.appendChild(dd);
  }
  function links(indices) {
    var span = el("span");
    indices.forEach(function (j, k) { if (k) span.appendChild(document.createTextNode("、")); span.appendChild(nodeLink(j)); });
    return indices.length ? span : null;
  }
  function originalLink(url) {
    var safe = safeUrl(url);
    if (!safe) return url ? el("span", url) : null;
    var a = el("a", "原文链接");
    a.href = safe; a.target = "_blank"; a.rel = "noopener noreferrer";
    return a;
  }
  function showPanel(i) {
    var n = N[i];
    document.getElementById("panel-title").textContent = n.label;
    document.getElementById("panel-kind").textContent = KIND_NAMES[n.kind] || n.kind;
    var dl = document.getElementById("panel-facts");
    dl.replaceChildren();
    fact(dl, "aliases 别名", n.aliases);
    var by = function (rel) { return outgoing[i].filter(function (k) { return E[k][2] === rel; }).map(function (k) { return E[k][1]; }); };
    fact(dl, "made by 厂商", links(by("made_by")));
    fact(dl, "version of", links(by("version_of")));
    fact(dl, "发布日期", n.date);
    fact(dl, "updated", n.updated);
    fact(dl, "作者", links(by("author")));
    fact(dl, "来源", links(by("source")));
    fact(dl, "tags", n.tags);
    fact(dl, "原文链接", originalLink(n.url));
    fact(dl, "file", n.path || n.note);
    if (n.kind !== "article") fact(dl, "articles", n.articles);
    var list = document.getElementById("panel-list");
    list.replaceChildren();
    var rows;
    if (n.kind === "article") {
      document.getElementById("panel-list-title").textContent = "Topics and entities 主题与实体";
      rows = outgoing[i].filter(function (k) { return ["about", "mentions", "links_to"].indexOf(E[k][2]) >= 0; })
        .map(function (k) { return { other: E[k][1], edge: k }; });
      rows.sort(function (a, b) { return N[a.other].label < N[b.other].label ? -1 : 1; });
    } else {
      document.getElementById("panel-list-title").textContent = "Articles 文章";
      rows = incoming[i].filter(function (k) { return ARTICLE_RELATIONS[E[k][2]] && N[E[k][0]].kind === "article"; })
        .map(function (k) { return { other: E[k][0], edge: k }; });
      rows.sort(function (a, b) {
        var da = N[a.other].date || "", db = N[b.other].date || "";
        return da === db ? a.other - b.other : (da < db ? 1 : -1);
      });
    }
    rows.slice(0, 300).forEach(function (row) {
      var o = N[row.other];
      var li = el("li");
      li.appendChild(nodeLink(row.other));
      if (o.date) li.appendChild(el("span", o.date, "date"));
      if (o.kind === "article" && safeUrl(o.url)) { li.appendChild(document.createTextNode(" ")); li.appendChild(originalLink(o.url)); }
      if (o.kind !== "article") li.appendChild(el("span", KIND_NAMES[o.kind] || o.kind, "date"));
      evidenceOf(row.edge).forEach(function (sentence) { li.appendChild(el("blockquote", sentence, "evidence")); });
      list.appendChild(li);
    });
    if (rows.length > 300) list.appendChild(el("li", "… " + (rows.length - 300) + " more"));
    panel.hidden = false;
  }
  document.getElementById("panel-close").addEventListener("click", function () { select(null); });

  function select(i) {
    state.selected = i;
    if (i === null) { panel.hidden = true; network.unselectAll(); } else { showPanel(i); }
    paint();
  }
  function focusNode(id) {
    var i = indexOf.get(id);
    if (i === undefined) return;
    if (state.hidden.has(i)) resetFilters();
    network.selectNodes([id]);
    network.focus(id, { scale: Math.max(network.getScale(), 1.0), animation: false });
    select(i);
  }
  window.kg.focusNode = focusNode;
  network.on("click", function (params) {
    if (params.nodes.length) select(indexOf.get(params.nodes[0])); else if (!params.edges.length) select(null);
  });

  // ---- search --------------------------------------------------------------------------------
  var searchBox = document.getElementById("search");
  var results = document.getElementById("search-results");
  var names = N.map(function (n) { return [n.label].concat(n.aliases || []).map(norm); });
  function search(query) {
    var q = norm(query).trim();
    if (!q) return [];
    var found = [];
    names.forEach(function (list, i) {
      var best = 9, hit = null;
      list.forEach(function (name, k) {
        var score = name === q ? 0 : name.indexOf(q) === 0 ? 1 : name.indexOf(q) > 0 ? 2 : 9;
        if (score < best) { best = score; hit = k; }
      });
      if (best < 9) found.push({ i: i, score: best, alias: hit > 0 ? N[i].aliases[hit - 1] : null });
    });
    found.sort(function (a, b) {
      return a.score - b.score || (N[b.i].articles || 0) - (N[a.i].articles || 0) || (N[a.i].label < N[b.i].label ? -1 : 1);
    });
    return found.slice(0, 30);
  }
  window.kg.search = search;
  function showResults() {
    var found = search(searchBox.value);
    results.replaceChildren();
    found.forEach(function (r, k) {
      var li = el("li", null, k === 0 ? "active" : "");
      li.appendChild(el("span", N[r.i].label, "label"));
      li.appendChild(el("span", KIND_NAMES[N[r.i].kind] || N[r.i].kind, "kind"));
      if (r.alias) li.appendChild(el("span", "= " + r.alias, "alias"));
      li.addEventListener("click", function () { results.hidden = true; focusNode(N[r.i].id); });
      results.appendChild(li);
    });
    if (searchBox.value.trim() && !found.length) results.appendChild(el("li", "no match 无结果"));
    results.hidden = !searchBox.value.trim();
  }
  searchBox.addEventListener("input", showResults);
  searchBox.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      var found = search(searchBox.value);
      if (found.length) { results.hidden = true; focusNode(N[found[0].i].id); }
    } else if (event.key === "Escape") { results.hidden = true; }
  });

  // ---- filters -------------------------------------------------------------------------------
  var authorSelect = document.getElementById("author-filter");
  var sourceSelect = document.getElementById("source-filter");
  function fillSelect(select, relation) {
    var counts = new Map();
    E.forEach(function (e) { if (e[2] === relation) counts.set(e[1], (counts.get(e[1]) || 0) + 1); });
    Array.from(counts.entries()).sort(function (a, b) { return b[1] - a[1] || (N[a[0]].label < N[b[0]].label ? -1 : 1); })
      .forEach(function (entry) {
        var option = el("option", N[entry[0]].label + " (" + entry[1] + ")");
        option.value = N[entry[0]].id;
        select.appendChild(option);
      });
  }
  fillSelect(authorSelect, "author");
  fillSelect(sourceSelect, "source");
  var controls = ["date-from", "date-to", "author-filter", "source-filter", "min-articles"].map(function (id) { return document.getElementById(id); });
  function applyFilters() {
    var kinds = new Set(Array.from(document.querySelectorAll("#kind-filter input:checked")).map(function (b) { return b.value; }));
    var from = controls[0].value, to = controls[1].value;
    var author = indexOf.get(authorSelect.value), source = indexOf.get(sourceSelect.value);
    var minArticles = Number(controls[4].value) || 0;
    var narrowed = Boolean(from || to || author !== undefined || source !== undefined);
    var linkedTo = function (i, target, relation) {
      return outgoing[i].some(function (k) { return E[k][2] === relation && E[k][1] === target; });
    };
    var articleShown = N.map(function (n, i) {
      if (n.kind !== "article") return false;
      if (from && !(n.date && n.date >= from)) return false;
      if (to && !(n.date && n.date <= to)) return false;
      if (author !== undefined && !linkedTo(i, author, "author")) return false;
      if (source !== undefined && !linkedTo(i, source, "source")) return false;
      return true;
    });
    state.hidden = new Set();
    var updates = N.map(function (n, i) {
      var show;
      if (n.kind === "article") {
        show = kinds.has("article") && articleShown[i];
      } else {
        var count = n.articles || 0;
        if (narrowed) {
          var seen = new Set();
          incoming[i].forEach(function (k) { if (articleShown[E[k][0]]) seen.add(E[k][0]); });
          count = seen.size;
        }
        show = kinds.has(n.kind) && count >= minArticles && (!narrowed || count > 0);
      }
      if (!show) state.hidden.add(i);
      return { id: n.id, hidden: !show };
    });
    nodes.update(updates);
    if (state.selected !== null && state.hidden.has(state.selected)) select(null);
    document.getElementById("status").dataset.hidden = String(state.hidden.size);
  }
  function resetFilters() {
    document.querySelectorAll("#kind-filter input").forEach(function (b) { b.checked = true; });
    controls.forEach(function (c) { c.value = c.type === "number" ? "0" : ""; });
    applyFilters();
  }
  document.querySelectorAll("#filters input, #filters select").forEach(function (c) { c.addEventListener("change", applyFilters); });
  document.getElementById("reset-filters").addEventListener("click", resetFilters);

  // ---- colour mode and co-mentions -------------------------------------------------------------
  document.getElementById("colour-by").addEventListener("change", function (event) {
    state.colourBy = event.target.value;
    paint();
  });
  document.getElementById("show-co-mentions").addEventListener("change", function (event) {
    if (event.target.checked) {
      edges.add(D.co_mentions.map(function (c, k) {
        return { id: "co" + k, from: N[c[0]].id, to: N[c[1]].id, relation: "co_mention", color: "#bbbbbb", dashes: [1, 4], width: Math.min(1 + Math.log2(c[2]), 6), title: "co-mentioned in " + c[2] + " articles" };
      }));
    } else {
      edges.remove(D.co_mentions.map(function (c, k) { return "co" + k; }));
    }
  });
})();
