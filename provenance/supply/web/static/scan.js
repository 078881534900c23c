// The scan station's keyboard-wedge loop. A wedge types a code and ends it with Enter (some
// with Tab); each code is taken out of the box at once, so the next scan never lands on the
// last one, and its verdict is fetched and shown in place while the box stays focused. Without
// this script the form still works: each scan loads the page with its verdict and an empty box.
const form = document.getElementById("scan-form");
const input = document.getElementById("code");
const region = document.getElementById("scan-result");
const GS = "\x1d";

let queue = Promise.resolve();
let shown = 0;

function ready() {
  input.value = "";
  input.focus();
}

function insertAtCursor(text) {
  const start = input.selectionStart ?? input.value.length;
  const end = input.selectionEnd ?? start;
  input.value = input.value.slice(0, start) + text + input.value.slice(end);
  input.setSelectionRange(start + text.length, start + text.length);
}

async function verdictFor(code) {
  const url = `${form.action}?${new URLSearchParams({ code })}`;
  try {
    const answer = await fetch(url, {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    });
    const page = new DOMParser().parseFromString(await answer.text(), "text/html");
    const fresh = page.getElementById("scan-result");
    if (!fresh) throw new Error(`the server answered ${answer.status}`);
    return { html: fresh.innerHTML, title: page.title, url };
  } catch (error) {
    const box = document.createElement("div");
    const failed = document.createElement("section");
    failed.id = "verdict";
    failed.className = "verdict v-error";
    failed.dataset.verdict = "error";
    failed.textContent = `Could not check the code (${error.message}): scan again`;
    box.append(failed);
    return { html: box.innerHTML, title: document.title, url: null };
  }
}

function show(result, code) {
  region.innerHTML = result.html;
  document.title = result.title;
  if (result.url) history.replaceState(null, "", result.url);
  shown += 1;
  region.dataset.scans = String(shown);
  const verdict = document.getElementById("verdict");
  // For scripts that act on a verdict (the pharmacist's actions): the region was replaced.
  document.dispatchEvent(
    new CustomEvent("scan:verdict", {
      detail: { code, verdict: verdict ? verdict.dataset.verdict : null, count: shown },
    }),
  );
  // Back to the box unless the user went on to another control outside the verdict.
  const where = document.activeElement;
  if (!where || where === document.body || region.contains(where)) input.focus();
}

function submitScan() {
  const code = input.value;
  ready();
  if (!code.trim()) return;
  region.setAttribute("aria-busy", "true");
  const pending = verdictFor(code);
  // Verdicts are shown in the order the packs were scanned, however the answers arrive.
  queue = queue.then(async () => {
    show(await pending, code);
    region.removeAttribute("aria-busy");
  });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  submitScan();
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Tab" && !event.shiftKey && input.value.trim()) {
    event.preventDefault(); // a wedge's Tab suffix ends the code, as Enter does
    submitScan();
  } else if (event.ctrlKey && (event.key === "]" || event.code === "BracketRight")) {
    event.preventDefault(); // Ctrl+] is how a wedge in keyboard mode types GS (FNC1)
    insertAtCursor(GS);
  } else if (event.key === GS || event.key === "GroupSeparator") {
    event.preventDefault();
    insertAtCursor(GS);
  }
});

region.dataset.scans = "0";
if (document.activeElement !== input) input.focus();
