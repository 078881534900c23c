// Statements signed in the browser, as provenance.client signs them: a party's PEM key file
// read into WebCrypto (PKCS#8, SEC1, or PKCS#8 encrypted with a passphrase), RFC 8785 payloads,
// DSSE envelopes with DER low-S signatures. Nothing here sends anything anywhere.
"use strict";
(() => {
  if (window.ProvenanceSigning) return; // linked by the page and by a verdict: set up once
  const PAYLOAD_TYPE = "application/vnd.provenance.statement+json";
  // P-256 group order: signatures are normalised to low S, the only form the log accepts.
  const ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  // DER prefix of a P-256 SubjectPublicKeyInfo with an uncompressed point (RFC 5480).
  const SPKI_PREFIX = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
  const EC_ALGORITHM = hex("301306072a8648ce3d020106082a8648ce3d030107");
  const encoder = new TextEncoder();

  function hex(text) {
    return Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  function base64(bytes) {
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
  }

  function fromBase64Url(text) {
    const plain = text.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(plain + "=".repeat((4 - (plain.length % 4)) % 4)), (c) =>
      c.charCodeAt(0),
    );
  }

  function der(tag, content) {
    const n = content.length;
    const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
    return concat(Uint8Array.of(tag, ...length), content);
  }

  // PBES2 (RFC 8018) as pyca/cryptography and OpenSSL write encrypted PKCS#8: PBKDF2 with an
  // HMAC-SHA PRF, then AES-CBC; the object identifiers' DER contents in hex.
  const PBES2 = "2a864886f70d01050d";
  const PBKDF2 = "2a864886f70d01050c";
  const PRFS = {
    "2a864886f70d0207": "SHA-1",
    "2a864886f70d0209": "SHA-256",
    "2a864886f70d020a": "SHA-384",
    "2a864886f70d020b": "SHA-512",
  };
  const AES_CBC = { "608648016503040102": 128, "608648016503040116": 192, "60864801650304012a": 256 };

  class KeyProblem extends Error {}
  // The key file is encrypted and no passphrase was given.
  class NeedsPassphrase extends KeyProblem {}

  // The TLVs in DER `bytes` (a constructed value's content), each {tag, content}.
  function derItems(bytes) {
    const items = [];
    let at = 0;
    while (at < bytes.length) {
      let length = bytes[at + 1];
      let head = 2;
      if (length & 0x80) {
        const count = length & 0x7f;
        if (count < 1 || count > 3) throw new KeyProblem("the key file is not valid DER");
        length = 0;
        for (let i = 0; i < count; i += 1) length = length * 256 + bytes[at + 2 + i];
        head += count;
      }
      if (at + head + length > bytes.length) throw new KeyProblem("the key file is truncated");
      items.push({ tag: bytes[at], content: bytes.subarray(at + head, at + head + length) });
      at += head + length;
    }
    return items;
  }

  // PKCS#8 DER from an EncryptedPrivateKeyInfo and its passphrase (UTF-8, as the CLI reads it).
  async function decryptPkcs8(encrypted, passphrase) {
    const unsupported = new KeyProblem(
      "this key file is encrypted in a way this page cannot open (it opens PBES2 with " +
        "AES-CBC): use the provenance command",
    );
    let salt, count, hash, bits, iv, data;
    try {
      const [algorithm, body] = derItems(derItems(encrypted)[0].content);
      const [scheme, params] = derItems(algorithm.content);
      const [kdf, cipher] = derItems(params.content);
      const [kdfId, kdfParams] = derItems(kdf.content);
      const [saltItem, iterations, ...optional] = derItems(kdfParams.content);
      const prf = optional.find((item) => item.tag === 0x30);
      const [cipherId, ivItem] = derItems(cipher.content);
      if (toHex(scheme.content) !== PBES2 || toHex(kdfId.content) !== PBKDF2) throw unsupported;
      hash = prf ? PRFS[toHex(derItems(prf.content)[0].content)] : "SHA-1";
      bits = AES_CBC[toHex(cipherId.content)];
      [salt, iv, data] = [saltItem.content, ivItem.content, body.content];
      count = iterations.content.reduce((n, b) => n * 256 + b, 0);
    } catch (err) {
      throw unsupported;
    }
    if (!hash || !bits) throw unsupported;
    const secret = await crypto.subtle.importKey("raw", encoder.encode(passphrase), "PBKDF2", false, [
      "deriveKey",
    ]);
    const aes = await crypto.subtle.deriveKey(
      { name: "PBKDF2", salt, iterations: count, hash },
      secret,
      { name: "AES-CBC", length: bits },
      false,
      ["decrypt"],
    );
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv }, aes, data));
    } catch (err) {
      throw new KeyProblem("the passphrase does not open this key file");
    }
  }

  // A PEM private key as PKCS#8 DER: "PRIVATE KEY" as it is, "ENCRYPTED PRIVATE KEY" opened
  // with `passphrase`, SEC1 "EC PRIVATE KEY" wrapped (RFC 5208 around RFC 5915).
  async function pkcs8FromPem(text, passphrase) {
    if (/Proc-Type: 4,ENCRYPTED/.test(text)) {
      throw new KeyProblem(
        "this key file is encrypted the legacy OpenSSL way, which this page cannot open: " +
          "convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`, or use the provenance command",
      );
    }
    const label = /-----BEGIN ((?:ENCRYPTED |EC )?PRIVATE KEY)-----([\s\S]*?)-----END \1-----/;
    const block = label.exec(text);
    if (!block) {
      throw new KeyProblem("this is not a PEM private key file (no BEGIN PRIVATE KEY block)");
    }
    let body;
    try {
      body = Uint8Array.from(atob(block[2].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    } catch (err) {
      throw new KeyProblem("the PEM block is not valid base64");
    }
    if (block[1] === "PRIVATE KEY") return body;
    if (block[1] === "ENCRYPTED PRIVATE KEY") {
      if (!passphrase) throw new NeedsPassphrase("this key file is protected by a passphrase");
      return decryptPkcs8(body, passphrase);
    }
    return der(0x30, concat(der(0x02, Uint8Array.of(0)), EC_ALGORITHM, der(0x04, body)));
  }

  // The signing key from a PEM file's text, with its public key's id (hex SHA-256 of the SPKI).
  async function importPem(text, passphrase) {
    const pkcs8 = await pkcs8FromPem(text, passphrase);
    let extractable;
    try {
      extractable = await crypto.subtle.importKey(
        "pkcs8",
        pkcs8,
        { name: "ECDSA", namedCurve: "P-256" },
        true,
        ["sign"],
      );
    } catch (err) {
      // A wrong passphrase can decrypt to well-padded garbage, rarely: say what is likelier.
      throw new KeyProblem(
        passphrase
          ? "the passphrase does not open this key file"
          : "this private key cannot be used: it must be an ECDSA P-256 key",
      );
    }
    // The public point comes from the private key; then the key is imported again as
    // non-extractable, so nothing on the page can read the private scalar back out of it.
    const jwk = await crypto.subtle.exportKey("jwk", extractable);
    const spki = concat(SPKI_PREFIX, Uint8Array.of(4), fromBase64Url(jwk.x), fromBase64Url(jwk.y));
    const key = await crypto.subtle.importKey(
      "jwk",
      { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d },
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["sign"],
    );
    const keyId = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", spki)));
    return { key, keyId };
  }

  // RFC 8785 canonical JSON for what statements hold (strings, integers, booleans, null,
  // arrays, objects): keys sorted by UTF-16 code units, strings escaped as JSON.stringify does.
  function canonicalJson(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") {
      return JSON.stringify(value);
    }
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) throw new Error("statements carry integers only");
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
    if (typeof value === "object") {
      const keys = Object.keys(value).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
    }
    throw new Error(`cannot sign a ${typeof value}`);
  }

  // DSSE v1 pre-authentication encoding.
  function pae(payloadType, payload) {
    const type = encoder.encode(payloadType);
    const head = encoder.encode(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `);
    return concat(head, payload);
  }

  function derInteger(bytes) {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i += 1;
    const trimmed = bytes.slice(i);
    return der(0x02, trimmed[0] & 0x80 ? concat(Uint8Array.of(0), trimmed) : trimmed);
  }

  function bigToBytes(n) {
    return hex(n.toString(16).padStart(64, "0"));
  }

  // WebCrypto's IEEE P1363 r||s as the DER the log expects, with S normalised to low S.
  function derSignature(p1363) {
    const r = p1363.slice(0, 32);
    let s = BigInt(`0x${toHex(p1363.slice(32))}`);
    if (s > ORDER / 2n) s = ORDER - s;
    return der(0x30, concat(derInteger(r), derInteger(bigToBytes(s))));
  }

  // A DSSE envelope of the statement {kind, body, issued_at, signer, log}, as the Python
  // client builds it (provenance.client.build_envelope).
  async function signEnvelope(signing, kind, body, log, issuedAt) {
    const statement = {
      kind,
      body,
      issued_at: issuedAt || new Date().toISOString(),
      signer: signing.keyId,
      log,
    };
    const payload = encoder.encode(canonicalJson(statement));
    const p1363 = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      signing.key,
      pae(PAYLOAD_TYPE, payload),
    );
    return {
      payload: base64(payload),
      payloadType: PAYLOAD_TYPE,
      signatures: [{ keyid: signing.keyId, sig: base64(derSignature(new Uint8Array(p1363))) }],
    };
  }

  window.ProvenanceSigning = {
    importPem,
    canonicalJson,
    pae,
    signEnvelope,
    KeyProblem,
    NeedsPassphrase,
  };
})();
