// maintgate panel: a confirmation dialog for on and off, the sites and
// the live view refreshed every 5 s, and the copy button. The page works
// without it: the forms then show a confirmation page first.
"use strict";
document.addEventListener("submit", function (e) {
  var f = e.target;
  if (!f.matches("form[data-confirm]")) { return; }
  var site = f.elements.site.value;
  var who = (site === "" || site === "default") ? "the server-wide switch (every site)" : "site " + site;
  if (!window.confirm("Turn maintenance " + f.dataset.confirm + " for " + who + "?")) {
    e.preventDefault();
    return;
  }
  f.elements.confirm.value = "1";
});
document.addEventListener("DOMContentLoaded", function () {
  var parts = document.querySelectorAll("[data-refresh]");
  if (parts.length > 0) {
    setInterval(function () {
      parts.forEach(function (el) {
        fetch(el.dataset.refresh, {credentials: "same-origin"}).then(function (r) {
          if (r.ok) { return r.text(); }
          throw new Error(r.status);
        }).then(function (html) { el.innerHTML = html; }).catch(function () {});
      });
    }, 5000);
  }
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var input = document.getElementById(b.dataset.copy);
      input.select();
      var done = function () { b.textContent = "Copied"; };
      if (navigator.clipboard) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
});
