// A pharmacy's actions on a scanned pack, each a statement signed in this browser (signing.js)
// with the party's own key file, the one its command line uses, and posted to
// /api/v1/statements. The key (and its passphrase) never leave the page: the server receives
// only the signed envelope, which authenticates itself (no cookie is sent with it).
"use strict";
(() => {
  if (window.ProvenancePharmacist) return; // linked by the page and by a verdict: set up once
  window.ProvenancePharmacist = true;
  const { importPem, signEnvelope, KeyProblem, NeedsPassphrase } = window.ProvenanceSigning;

  const CHANGES_CUSTODY = new Set(["dispense", "destroy", "suspect"]);
  // The key stays loaded for the page's life, so a station signs for pack after pack: the
  // scan page shows each verdict in place (scan.js), and this script sets up each new one.
  let signing = null;
  let origin = null;

  // `outcome`: "ok", "error", "ask" (for a passphrase), or "pending" while a statement is
  // being signed and sent.
  function show(element, parts, outcome) {
    element.replaceChildren(
      ...parts.map((part) => {
        if (typeof part === "string") return document.createTextNode(part);
        const link = document.createElement("a");
        link.href = part.href;
        link.textContent = part.text;
        return link;
      }),
    );
    element.dataset.outcome = outcome;
  }

  async function logOrigin() {
    if (origin === null) {
      const answer = await fetch("/api/v1/log", { credentials: "omit" });
      if (!answer.ok) throw new Error(`the log did not say its origin (HTTP ${answer.status})`);
      origin = (await answer.json()).origin;
    }
    return origin;
  }

  // The pack as the log sees it now (the verdict may be older than the last statement about
  // it); null when the answer does not show custody (a session that has ended).
  async function currentPack(code) {
    const url = `/api/v1/scan?code=${encodeURIComponent(code)}`;
    const answer = await fetch(url, { headers: { Accept: "application/json" } });
    if (!answer.ok) return null;
    return (await answer.json()).pack || null;
  }

  function refusal(action, pack, gln) {
    if (pack.state === "supplied" && action === "dispense") {
      return `this pack was already dispensed, by GLN ${pack.state_by} at ${pack.state_at}`;
    }
    if (pack.state !== "active") {
      return `this pack is ${pack.state} (set by GLN ${pack.state_by} at ${pack.state_at})`;
    }
    if (pack.holder !== gln) return `this pack is held by GLN ${pack.holder}, not by you`;
    return null;
  }

  function statementFor(action, facts, section) {
    const pack = { gtin: facts.gtin, lot: facts.lot };
    if (action === "scan") {
      const body = { ...pack, serial: facts.serial };
      const expiry = /\(17\)(\d{6})/.exec(facts.elementString || "");
      if (expiry) body.expiry = expiry[1];
      return ["scan.record", body];
    }
    const serials = [facts.serial];
    if (action === "dispense") return ["custody.dispense", { ...pack, serials }];
    if (action === "suspect") return ["pack.state", { ...pack, serials, state: "locked" }];
    const reason = section.querySelector("#destroy-reason").value.trim();
    if (!reason) throw new KeyProblem("give a reason for decommissioning the pack");
    return ["custody.destroy", { ...pack, serials, reason }];
  }

  async function post(envelope) {
    const answer = await fetch("/api/v1/statements", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(envelope),
      credentials: "omit", // the signature authenticates the statement, not a cookie
    });
    return [answer, await answer.json().catch(() => ({}))];
  }

  function setUp(section) {
    if (!section || section.dataset.ready) return;
    section.dataset.ready = "true";
    const facts = section.dataset;
    const keyFile = section.querySelector("#key-file");
    const keyStatus = section.querySelector("#key-status");
    const output = section.querySelector("#pharmacist-result");
    const buttons = Array.from(section.querySelectorAll("button[data-action]"));

    function enable(on) {
      for (const button of buttons) button.disabled = !on || button.dataset.done === "true";
    }

    function keyLoaded() {
      const whose =
        signing.keyId === facts.loginKey
          ? " (the key you logged in with)"
          : ": not the key you logged in with; the log accepts it if it is a current key of your party";
      show(keyStatus, [`Key ${signing.keyId.slice(0, 16)}… loaded in this page${whose}.`], "ok");
      enable(true);
    }

    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      show(keyStatus, ["Signing needs a secure page: open this page over HTTPS."], "error");
      keyFile.disabled = true;
      return;
    }
    if (signing) keyLoaded();

    const passphraseRow = section.querySelector("#passphrase-row");
    const passphrase = section.querySelector("#key-passphrase");
    let locked = null; // an encrypted key file's text, while its passphrase is asked for

    async function open(text, name, secret) {
      try {
        signing = await importPem(text, secret);
      } catch (err) {
        if (err instanceof NeedsPassphrase) {
          locked = { text, name };
          passphraseRow.hidden = false;
          show(keyStatus, [`${name} is protected by a passphrase: type it to open the key.`], "ask");
          passphrase.focus();
          return;
        }
        const why = err instanceof KeyProblem ? err.message : `it cannot be read (${err.message})`;
        show(keyStatus, [`${name}: ${why}.`], "error");
        return;
      }
      locked = null;
      passphraseRow.hidden = true;
      keyLoaded();
    }

    keyFile.addEventListener("change", async () => {
      const file = keyFile.files[0];
      signing = null;
      enable(false);
      if (!file) return;
      const text = await file.text();
      keyFile.value = ""; // the page keeps only the non-extractable key
      await open(text, file.name);
    });

    async function unlock() {
      if (!locked) return;
      const secret = passphrase.value;
      passphrase.value = "";
      await open(locked.text, locked.name, secret);
    }
    section.querySelector("#key-open").addEventListener("click", unlock);
    passphrase.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        unlock();
      }
    });

    async function act(button) {
      const action = button.dataset.action;
      const label = button.textContent;
      enable(false);
      delete output.dataset.index;
      show(output, [`${label}: signing…`], "pending");
      try {
        const [kind, body] = statementFor(action, facts, section);
        if (CHANGES_CUSTODY.has(action)) {
          const pack = await currentPack(facts.code);
          const why = pack && refusal(action, pack, facts.gln);
          if (why) {
            show(output, [`${label} refused, nothing was signed: ${why}.`], "error");
            return;
          }
        }
        const [answer, result] = await post(await signEnvelope(signing, kind, body, await logOrigin()));
        if (!answer.ok) {
          const detail = [result.title, result.detail].filter(Boolean).join(": ");
          const why = detail || `HTTP ${answer.status}`;
          show(output, [`${label} refused by the log: ${why}.`], "error");
          return;
        }
        const receipt = { href: result.receipt || `/log/receipt/${result.index}`, text: "receipt" };
        const what = result.duplicate ? "was already logged" : "signed and logged";
        const parts = [`${label}: ${kind} ${what} at entry ${result.index} (`, receipt, ")."];
        if (CHANGES_CUSTODY.has(action)) {
          for (const b of buttons) if (CHANGES_CUSTODY.has(b.dataset.action)) b.dataset.done = "true";
          const again = { href: `/scan?code=${encodeURIComponent(facts.code)}`, text: "scan it again" };
          parts.push(" The pack has left your stock or changed state: ", again, " to see it.");
        }
        output.dataset.index = String(result.index);
        show(output, parts, "ok");
      } catch (err) {
        const why =
          err instanceof KeyProblem ? err.message : `the server could not be reached (${err.message})`;
        show(output, [`${label} failed: ${why}.`], "error");
      } finally {
        enable(signing !== null);
      }
    }

    for (const button of buttons) button.addEventListener("click", () => act(button));
  }

  setUp(document.getElementById("pharmacist"));
  document.addEventListener("scan:verdict", () => setUp(document.getElementById("pharmacist")));
})();
