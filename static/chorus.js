// Progressive enhancement only: "Copy text" buttons. Without JavaScript the
// text stays visible and selectable, and everything else works.
//
// A button copies the text shown in its form as it is now: the person's own
// words when they changed the suggested text, with the link after them.
document.querySelectorAll(".copy-button").forEach(function (button) {
  if (!navigator.clipboard) return;
  var source = button.form && button.form.querySelector(".share-text");
  if (!source) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var text = source.tagName === "TEXTAREA" ? source.value : source.textContent;
    if (button.dataset.link) text += "\n" + button.dataset.link;
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = "Copied";
    });
  });
});
