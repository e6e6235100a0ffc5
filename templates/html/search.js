// Offline site search for the built-in renderer. The index (page titles, headings and
// text, one entry per section) is written at render time into search-index.js, loaded by a
// <script> tag, so search works from a web server and from file:// alike. No library.
// Matching: every word of the query (split on spaces) must occur, case-insensitively;
// Chinese needs no word splitting because matching is by substring.
(function () {
  "use strict";
  var MAX_RESULTS = 12;

  function siteRoot() {
    var root = document.documentElement.getAttribute("data-site-root") || ".";
    return root.replace(/\/$/, "") + "/";
  }

  function escapeHtml(s) {
    return s.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function highlight(text, terms) {
    var out = escapeHtml(text);
    terms.forEach(function (t) {
      var re = new RegExp(escapeHtml(t).replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
      out = out.replace(re, function (m) { return "<mark>" + m + "</mark>"; });
    });
    return out;
  }

  function snippet(text, term) {
    var i = text.toLowerCase().indexOf(term);
    if (i < 0) { return text.slice(0, 90); }
    var start = Math.max(0, i - 30);
    return (start > 0 ? "…" : "") + text.slice(start, i + 60) + (i + 60 < text.length ? "…" : "");
  }

  function score(entry, terms) {
    var title = (entry.title + " " + entry.section).toLowerCase();
    var text = entry.text.toLowerCase();
    var s = 0;
    for (var k = 0; k < terms.length; k++) {
      var inTitle = title.indexOf(terms[k]) >= 0;
      var inText = text.indexOf(terms[k]) >= 0;
      if (!inTitle && !inText) { return 0; }
      s += (inTitle ? 10 : 0) + (inText ? 1 : 0);
    }
    return s;
  }

  function search(query) {
    var index = window.BPS_SEARCH_INDEX || [];
    var terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (!terms.length) { return []; }
    var hits = [];
    for (var i = 0; i < index.length; i++) {
      var s = score(index[i], terms);
      if (s > 0) { hits.push({ entry: index[i], score: s }); }
    }
    hits.sort(function (a, b) { return b.score - a.score; });
    return hits.slice(0, MAX_RESULTS).map(function (h) { return h.entry; });
  }

  function render(list, results, terms, emptyText) {
    list.innerHTML = "";
    if (!results.length) {
      var li = document.createElement("li");
      li.className = "no-hit";
      li.textContent = emptyText;
      list.appendChild(li);
    }
    results.forEach(function (e) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = siteRoot() + e.href;
      var head = e.section && e.section !== e.title ? e.title + " › " + e.section : e.title;
      a.innerHTML = '<span class="hit-title">' + highlight(head, terms) + "</span>" +
        '<span class="hit-text">' + highlight(snippet(e.text, terms[0]), terms) + "</span>";
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("search-input");
    var list = document.getElementById("search-results");
    if (!input || !list) { return; }
    var emptyText = input.getAttribute("data-no-results") || "";
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (!q) { list.hidden = true; list.innerHTML = ""; return; }
      render(list, search(q), q.toLowerCase().split(/\s+/).filter(Boolean), emptyText);
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { input.value = ""; list.hidden = true; }
      if (ev.key === "Enter") {
        var first = list.querySelector("a");
        if (first) { window.location.href = first.href; }
      }
    });
    document.addEventListener("click", function (ev) {
      if (ev.target !== input && !list.contains(ev.target)) { list.hidden = true; }
    });
  });
  window.BPS_SEARCH = search;
})();
