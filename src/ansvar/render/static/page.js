// ansvar's page: small enhancements only; the page works without them (state lives in its form).
// Copy the journal text to the clipboard, and print. No request leaves the page from here.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const text = document.getElementById("journaltekst");
  const copy = document.getElementById("kopier");
  const said = document.getElementById("kopieret");
  const say = (message) => { if (said) { said.textContent = message; } };
  if (text && copy) {
    copy.hidden = false;
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(text.value);
        say("Teksten er kopieret.");
      } catch (refused) {
        const journal = text.closest("details");
        if (journal) { journal.open = true; }
        text.focus();
        text.select();
        say("Teksten er markeret: tryk Ctrl+C for at kopiere den.");
      }
    });
  }
  const print = document.getElementById("udskriv");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", () => window.print());
  }
});
