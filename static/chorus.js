// Progressive enhancement only. Without JavaScript every share form opens
// the platform's dialog in a new tab (target="_blank"), the text to paste
// stays visible and selectable, and everything else works.
//
// With it:
// - "Share on …" opens the dialog in a popup sized like the platforms'
//   own, and the queue stays where it was;
// - for a platform whose dialog takes only the link (LinkedIn, Facebook,
//   XING), the same click copies the suggested text with the link, and
//   says so ("Text copied: paste it into LinkedIn");
// - the card then shows what the server recorded ("Shared on … ✓ · Undo"),
//   read again from /queue rather than guessed here;
// - "Copy text" buttons copy the text as shown, with the link.
(function () {
  "use strict";
  var status = document.getElementById("share-status");
  var said;

  function say(text) {
    if (!status) return;
    status.textContent = text;
    clearTimeout(said);
    said = setTimeout(function () { status.textContent = ""; }, 8000);
  }

  function copy(text, done) {
    if (!navigator.clipboard) return;
    navigator.clipboard.writeText(text).then(done, function () {});
  }

  // Each card's text boxes, and "Copy text" under each text of a card: the text box as it is now (the
  // person's own words when they changed them) with the link after it, or
  // the text to paste. Made here: without a clipboard there is none.
  function showCopyButtons(root) {
    // A text box the page left empty holds the card's suggested text (an
    // empty box shares it too; filled, it is ready to change).
    root.querySelectorAll(".card details textarea").forEach(function (box) {
      var suggested = box.closest(".card").querySelector(".suggested");
      if (!box.value && suggested) box.value = suggested.textContent;
    });
    if (!navigator.clipboard) return;
    root.querySelectorAll(".card details textarea, .card details > pre").forEach(function (source) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy secondary";
      button.textContent = "Copy text";
      // After the box's label, which holds the box and may hold nothing else.
      (source.closest("label") || source).after(button);
    });
  }
  showCopyButtons(document);

  // The link a text box's platform shares: its own, or the card's with the
  // platform's slug (from the box's name, text_<post>_<slug>) in place.
  function linkFor(box) {
    if (box.dataset.link) return box.dataset.link;
    var pattern = box.closest(".card").dataset.link || "";
    return pattern.split("{platform}").join(box.name.replace(/^text_\d+_/, ""));
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.copy");
    if (!button) return;
    var source = button.previousElementSibling;
    if (source.tagName === "LABEL") source = source.querySelector("textarea");
    var text = source.tagName === "TEXTAREA" ? source.value : source.textContent;
    var link = source.tagName === "TEXTAREA" ? linkFor(source) : "";
    if (link) text += "\n" + link;
    copy(text, function () { button.textContent = "Copied"; });
  });

  // The card again, as the server now has it.
  function refresh(card) {
    if (!card || !window.fetch || !window.DOMParser) return;
    fetch(window.location.pathname + window.location.search, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(card.id);
        var now = document.getElementById(card.id);
        if (fresh && now && fresh.innerHTML !== now.innerHTML) {
          // Words typed and boxes opened meanwhile stay as they were.
          var twin = function (box) {
            return fresh.querySelector('textarea[name="' + box.name + '"]');
          };
          now.querySelectorAll("textarea[name]").forEach(function (box) {
            var kept = twin(box);
            if (kept) kept.value = box.value;
          });
          now.querySelectorAll("details[open] textarea[name]").forEach(function (box) {
            var kept = twin(box);
            if (kept) kept.closest("details").open = true;
          });
          now.replaceWith(fresh);
          showCopyButtons(fresh);
          if (sharedFrom === card) sharedFrom = null;
        }
      })
      .catch(function () {});
  }

  var sharedFrom = null;
  window.addEventListener("focus", function () {
    if (sharedFrom) refresh(sharedFrom);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[formaction]");
    if (!button || !/\/share\/[a-z]+$/.test(button.getAttribute("formaction"))) return;
    // A popup the size of the platforms' share dialogs, centred; if the
    // browser refuses it, the form's new tab does the same.
    var width = 600, height = 640;
    var left = Math.max(0, (window.screen.width - width) / 2);
    var top = Math.max(0, (window.screen.height - height) / 2);
    var popup = window.open("", "chorus-share",
      "popup,width=" + width + ",height=" + height + ",left=" + left + ",top=" + top);
    if (popup) button.formTarget = "chorus-share";
    // The text to paste, for a dialog that takes only the link.
    var text = document.getElementById(button.getAttribute("formaction")
      .replace(/^\/queue\/(\d+)\/share\/([a-z]+)$/, "copy-$1-$2"));
    if (text) {
      var name = text.closest("details").querySelector("summary").textContent.replace(/^Text for /, "");
      copy(text.textContent, function () {
        say("Text copied: paste it into " + name + ".");
      });
    }
    sharedFrom = button.closest("article");
    var card = sharedFrom;
    setTimeout(function () { refresh(card); }, 1500);
  });
})();
