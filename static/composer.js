// Progressive enhancement for the hub's composer. Without JavaScript the
// page works the same: counts appear on Preview and on Save.
//
// - Live character counts: the form as typed is sent (debounced) to
//   POST /hub/posts/preview-counts, which counts every caption with the
//   server's own rules (the ones Save applies); the answer's sentences are
//   put beside their fields. Nothing is counted here.
// - The error summary takes the focus, so it is read out first.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();

  var form = document.querySelector("form[data-counts]");
  if (!form || !window.fetch || !window.FormData || !window.URLSearchParams) return;
  var timer = null;
  var asked = 0;

  function show(counts) {
    var byField = {};
    counts.forEach(function (count) { byField[count.field] = count; });
    form.querySelectorAll("[data-count-for]").forEach(function (place) {
      var count = byField[place.getAttribute("data-count-for")];
      var text = count ? count.sentence : "";
      if (place.textContent !== text) place.textContent = text;
      place.classList.toggle("over", Boolean(count && !count.fits));
    });
  }

  function refresh() {
    var mine = ++asked;
    fetch(form.getAttribute("data-counts"), {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: new URLSearchParams(new FormData(form))
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        // Only the latest answer counts: an older one may arrive last.
        if (answer && mine === asked) show(answer.counts);
      })
      .catch(function () { /* counts come back on Preview */ });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  refresh();
})();
