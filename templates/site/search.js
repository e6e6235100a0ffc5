// Search over every edition (bpsreport/postrender.py writes one index per edition and
// language, _bps/search/<year>-<lang>.js). The indexes are loaded with <script> tags when
// the reader first uses the box, so it works from file:// too. Every hit shows its
// edition's year; the scope menu limits the search to one edition.
// Matching: every word of the query must occur, case-insensitively; Chinese is matched by
// substring, so it needs no word splitting.
(function () {
  "use strict";
  var MAX = 20;
  var loaded = {};

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
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
  function years(lang) {
    var data = (window.BPS_EDITIONS || { editions: {} }).editions, out = [];
    for (var k in data) {
      if (Object.prototype.hasOwnProperty.call(data, k) && ((data[k].pages || {})[lang] || []).length) { out.push(data[k].year); }
    }
    return out.sort(function (a, b) { return b - a; });
  }
  // One loader per index file: callbacks wait until every index of the language is in.
  function load(prefix, lang, done) {
    var want = years(lang).map(function (y) { return y + "-" + lang; });
    var pending = want.filter(function (k) { return loaded[k] !== "done"; });
    if (!pending.length) { done(); return; }
    var left = pending.length;
    function one() { left -= 1; if (!left) { done(); } }
    pending.forEach(function (key) {
      var state = loaded[key];
      if (state && state.waiting) { state.waiting.push(one); return; }
      loaded[key] = { waiting: [one] };
      var s = document.createElement("script");
      s.src = prefix + "_bps/search/" + key + ".js";
      s.onload = s.onerror = function () {
        var waiting = loaded[key].waiting;
        loaded[key] = "done";
        waiting.forEach(function (f) { f(); });
      };
      document.head.appendChild(s);
    });
  }
  function run(bar) {
    var prefix = bar.getAttribute("data-bps-prefix") || "";
    var lang = bar.getAttribute("data-bps-lang");
    var input = bar.querySelector(".bps-search-input");
    var scope = bar.querySelector(".bps-search-scope");
    var list = bar.querySelector(".bps-search-results");
    if (!input || !list) { return; }
    function render() {
      var q = input.value.trim();
      var terms = q.toLowerCase().split(/\s+/).filter(Boolean);
      if (!terms.length) { list.hidden = true; list.innerHTML = ""; return; }
      var only = scope ? scope.value : "";
      var hits = [];
      var all = window.BPS_SEARCH || {};
      years(lang).forEach(function (y) {
        if (only && String(y) !== only) { return; }
        (all[y + "-" + lang] || []).forEach(function (e) {
          var s = score(e, terms);
          if (s > 0) { hits.push({ e: e, s: s }); }
        });
      });
      hits.sort(function (a, b) { return b.s - a.s || b.e.year - a.e.year; });
      hits = hits.slice(0, MAX);
      if (!hits.length) {
        list.innerHTML = "<li>" + escapeHtml(input.getAttribute("data-no-results") || "") + "</li>";
      } else {
        list.innerHTML = hits.map(function (h) {
          var e = h.e;
          var yearLabel = lang === "zh" ? e.year + "年版" : e.year + " edition";
          return '<li data-year="' + e.year + '"><a href="' + escapeHtml(prefix + e.href) + '">' +
            '<span class="bps-hit-year">' + escapeHtml(yearLabel) + "</span>" +
            highlight(e.section ? e.title + " · " + e.section : e.title, terms) +
            '<span class="bps-hit-snippet">' + highlight(snippet(e.text, terms[0]), terms) + "</span></a></li>";
        }).join("");
      }
      list.hidden = false;
    }
    function go() { load(prefix, lang, render); }
    input.addEventListener("input", go);
    input.addEventListener("focus", function () { load(prefix, lang, function () {}); });
    if (scope) { scope.addEventListener("change", go); }
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { input.value = ""; list.hidden = true; }
    });
    document.addEventListener("click", function (ev) {
      if (!bar.querySelector(".bps-search").contains(ev.target)) { list.hidden = true; }
    });
  }
  function start() { var bar = document.getElementById("bps-bar"); if (bar) { run(bar); } }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
