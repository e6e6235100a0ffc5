// Small site behaviour for the built-in renderer (no library, no network):
// - the language switch keeps the reader's place: a section id (#sec-...) is the same in
//   both languages, so the anchor is carried over;
// - an open menu closes when another opens, on a click outside, or with Escape.
(function () {
  "use strict";
  function carryHash() {
    var links = document.querySelectorAll("a.lang-switch");
    for (var i = 0; i < links.length; i++) {
      links[i].addEventListener("click", function (ev) {
        var hash = window.location.hash;
        if (hash && /^#(sec|fig|tbl)-/.test(hash)) {
          ev.currentTarget.setAttribute("href", ev.currentTarget.getAttribute("href").split("#")[0] + hash);
        }
      });
    }
  }
  function menus() {
    var all = document.querySelectorAll(".site-header details");
    function closeOthers(keep) {
      for (var i = 0; i < all.length; i++) { if (all[i] !== keep) { all[i].removeAttribute("open"); } }
    }
    for (var i = 0; i < all.length; i++) {
      all[i].addEventListener("toggle", function (ev) { if (ev.target.open) { closeOthers(ev.target); } });
    }
    document.addEventListener("click", function (ev) {
      if (!ev.target.closest || !ev.target.closest(".site-header details")) { closeOthers(null); }
    });
    document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { closeOthers(null); } });
  }
  document.addEventListener("DOMContentLoaded", function () { carryHash(); menus(); });
})();
