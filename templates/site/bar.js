// The edition bar and the index pages (bpsreport/postrender.py). No library, no network:
// the registry of editions (_bps/editions.js) is loaded by a <script> tag, so this works
// from a web server and from file:// alike.
// - On a page: link the same page in the other editions, fill the search scope, keep the
//   reader's place when switching language, remember the language.
// - On the index page: the reader picks a language; the choice is remembered (localStorage)
//   and shown first next time. The page never redirects by itself.
(function () {
  "use strict";
  var KEY = "bps-lang";

  function remember(lang) {
    try { window.localStorage.setItem(KEY, lang); } catch (e) { /* storage may be off */ }
  }
  function remembered() {
    try { return window.localStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }
  function editions() {
    var data = window.BPS_EDITIONS || { editions: {} };
    var list = [];
    for (var k in data.editions) { if (Object.prototype.hasOwnProperty.call(data.editions, k)) { list.push(data.editions[k]); } }
    list.sort(function (a, b) { return b.year - a.year; });
    return list;
  }
  function label(lang, year) { return lang === "zh" ? year + "年版" : year + " edition"; }
  function draftLabel(lang) { return lang === "zh" ? "征求意见稿" : "DRAFT"; }

  function initBar(bar) {
    var prefix = bar.getAttribute("data-bps-prefix") || "";
    var lang = bar.getAttribute("data-bps-lang");
    var year = parseInt(bar.getAttribute("data-bps-year"), 10);
    var page = bar.getAttribute("data-bps-page");
    remember(lang);
    var others = bar.querySelector(".bps-others");
    var scope = bar.querySelector(".bps-search-scope");
    editions().forEach(function (ed) {
      var pages = (ed.pages || {})[lang] || [];
      if (!pages.length) { return; }
      if (scope) {
        var opt = document.createElement("option");
        opt.value = String(ed.year);
        opt.textContent = label(lang, ed.year) + (ed.draft ? "（" + draftLabel(lang) + "）" : "");
        scope.appendChild(opt);
      }
      if (ed.year === year || !others || !page) { return; }
      var target = "reports/" + ed.year + "/" + lang + "/" + page;
      if (pages.indexOf(target) < 0) { return; }
      var a = document.createElement("a");
      a.href = prefix + lang + "/" + target;
      a.textContent = label(lang, ed.year);
      a.setAttribute("data-year", String(ed.year));
      others.appendChild(a);
      if (ed.draft) {
        var badge = document.createElement("span");
        badge.className = "bps-badge";
        badge.textContent = draftLabel(lang);
        others.appendChild(badge);
      }
      others.hidden = false;
    });
    var switches = bar.querySelectorAll("a.bps-lang");
    for (var i = 0; i < switches.length; i++) {
      switches[i].addEventListener("click", function (ev) {
        var a = ev.currentTarget;
        remember(a.getAttribute("hreflang"));
        var hash = window.location.hash;
        if (hash && /^#(sec|fig|tbl)-/.test(hash)) { a.setAttribute("href", a.getAttribute("href").split("#")[0] + hash); }
      });
    }
    var menus = bar.querySelectorAll("details");
    document.addEventListener("click", function (ev) {
      for (var j = 0; j < menus.length; j++) { if (!menus[j].contains(ev.target)) { menus[j].removeAttribute("open"); } }
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { for (var j = 0; j < menus.length; j++) { menus[j].removeAttribute("open"); } }
    });
  }

  function initIndex(main) {
    var buttons = main.querySelectorAll("[data-pick]");
    function show(lang) {
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].setAttribute("aria-pressed", buttons[i].getAttribute("data-pick") === lang ? "true" : "false");
      }
      var blocks = main.querySelectorAll(".bps-card-lang");
      for (var j = 0; j < blocks.length; j++) {
        blocks[j].hidden = !!lang && blocks[j].getAttribute("data-lang") !== lang;
      }
    }
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (ev) {
        var lang = ev.currentTarget.getAttribute("data-pick");
        remember(lang);
        show(lang);
      });
    }
    var opens = main.querySelectorAll("a.bps-open");
    for (var k = 0; k < opens.length; k++) {
      opens[k].addEventListener("click", function (ev) { remember(ev.currentTarget.getAttribute("data-lang")); });
    }
    show(remembered());
  }

  function start() {
    var bar = document.getElementById("bps-bar");
    if (bar) { initBar(bar); }
    var main = document.querySelector(".bps-index-main");
    if (main) { initIndex(main); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
