// Progressive enhancement only: "Copy text" buttons. Without JavaScript the
// text stays visible and selectable, and everything else works.
document.querySelectorAll(".copy-button").forEach(function (button) {
  if (!navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(button.dataset.copy || "").then(function () {
      button.textContent = "Copied";
    });
  });
});
