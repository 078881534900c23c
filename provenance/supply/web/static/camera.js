// The scan page's camera: reads a pack's QR or DataMatrix code and submits it as a scanner would.
// The browser's own BarcodeDetector reads the frames where it knows both symbologies; elsewhere
// the vendored ZXing decoder (static/vendor/, fetched from this server only when first needed).
"use strict";
(() => {
  const GS = "\u001d";
  const FORMATS = ["qr_code", "data_matrix"];
  // Frames are scaled down to this width: enough for a pack's code held near the lens, and
  // a frame decodes in tens of milliseconds even on a phone.
  const MAX_WIDTH = 1024;
  const FRAME_INTERVAL_MS = 120;
  const root = document.getElementById("camera-scan");
  let zxingLoad = null;
  let detectorFound = null;
  let canvas = null;

  function loadZxing() {
    if (window.ZXing) return Promise.resolve(window.ZXing);
    if (!zxingLoad) {
      zxingLoad = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = root.dataset.decoder;
        script.onload = () => resolve(window.ZXing);
        script.onerror = () => {
          zxingLoad = null;
          reject(new Error("the barcode decoder could not be loaded from this server"));
        };
        document.head.appendChild(script);
      });
    }
    return zxingLoad;
  }

  // The browser's detector, if it reads both QR and DataMatrix codes; else null.
  function nativeDetector() {
    if (detectorFound === null) {
      detectorFound = (async () => {
        if (!("BarcodeDetector" in window)) return null;
        try {
          const supported = await window.BarcodeDetector.getSupportedFormats();
          if (!FORMATS.every((format) => supported.includes(format))) return null;
          return new window.BarcodeDetector({ formats: FORMATS });
        } catch (err) {
          return null;
        }
      })();
    }
    return detectorFound;
  }

  // What a keyboard-wedge scanner would type for the same code: GS1 data with its AIM symbology
  // identifier (]d2 GS1 DataMatrix, ]Q3 GS1 QR) and GS as the FNC1 separator, so the server's
  // parser reads element strings; any other data (a Digital Link URI) as it is.
  function asScannerData(text, format) {
    const prefix = format === "data_matrix" ? "]d2" : "]Q3";
    if (text.startsWith(GS)) return prefix + text.slice(1); // FNC1 in first position
    if (/^\d\d/.test(text) && (text.includes(GS) || /^0[12]\d{14}/.test(text))) {
      return prefix + text; // a reader that dropped the leading FNC1 but kept the AIs
    }
    return text;
  }

  function frame(source) {
    const width = source.videoWidth || source.naturalWidth || source.width;
    const height = source.videoHeight || source.naturalHeight || source.height;
    if (!width || !height) return null;
    const scale = Math.min(1, MAX_WIDTH / width);
    canvas = canvas || document.createElement("canvas");
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.fillStyle = "#fff"; // a transparent image's background reads as light, not dark
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    return canvas;
  }

  async function zxingDecode(source) {
    const ZXing = await loadZxing();
    const pixels = frame(source);
    if (pixels === null) return null;
    const hints = new Map();
    hints.set(ZXing.DecodeHintType.POSSIBLE_FORMATS, [
      ZXing.BarcodeFormat.QR_CODE,
      ZXing.BarcodeFormat.DATA_MATRIX,
    ]);
    hints.set(ZXing.DecodeHintType.TRY_HARDER, true);
    const reader = new ZXing.MultiFormatReader();
    const luminance = new ZXing.HTMLCanvasElementLuminanceSource(pixels);
    for (const Binarizer of [ZXing.HybridBinarizer, ZXing.GlobalHistogramBinarizer]) {
      try {
        const result = reader.decode(new ZXing.BinaryBitmap(new Binarizer(luminance)), hints);
        const format =
          result.getBarcodeFormat() === ZXing.BarcodeFormat.DATA_MATRIX ? "data_matrix" : "qr_code";
        return { text: asScannerData(result.getText(), format), format, decoder: "zxing" };
      } catch (err) {
        // No code in this frame, or one too damaged to read: try the next binarizer or frame.
        const misread =
          err instanceof ZXing.NotFoundException ||
          err instanceof ZXing.ChecksumException ||
          err instanceof ZXing.FormatException;
        if (!misread) throw err;
      }
    }
    return null;
  }

  // One code read from an image, canvas or video frame: {text, format, decoder}, or null.
  // `native: false` uses the vendored decoder even where the browser has its own.
  async function decode(source, { native = true } = {}) {
    const detector = native ? await nativeDetector() : null;
    if (detector) {
      const codes = await detector.detect(source);
      if (!codes.length) return null;
      const { rawValue, format } = codes[0];
      return { text: asScannerData(rawValue, format), format, decoder: "native" };
    }
    return zxingDecode(source);
  }

  async function decodeImageUrl(url, options) {
    const image = new Image();
    image.src = url;
    await image.decode();
    return decode(image, options);
  }

  window.ProvenanceCamera = { decode, decodeImageUrl, asScannerData };

  if (!root) return;
  const start = document.getElementById("camera-start");
  const stop = document.getElementById("camera-stop");
  const video = document.getElementById("camera-video");
  const status = document.getElementById("camera-status");
  let stream = null;

  function say(text) {
    status.textContent = text;
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    start.hidden = false;
    stop.hidden = true;
  }

  function submit(text) {
    const form = document.getElementById("scan-form");
    document.getElementById("code").value = text;
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }

  async function tick() {
    if (!stream) return;
    if (video.readyState >= video.HAVE_CURRENT_DATA) {
      let found = null;
      try {
        found = await decode(video);
      } catch (err) {
        stopCamera();
        say(`The code cannot be read here: ${err.message}. Use a scanner or type the code.`);
        return;
      }
      if (found) {
        stopCamera();
        say("Read: verifying…");
        submit(found.text);
        return;
      }
    }
    setTimeout(tick, FRAME_INTERVAL_MS);
  }

  async function startCamera() {
    say("Starting the camera…");
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment" },
        audio: false,
      });
    } catch (err) {
      say(
        err.name === "NotAllowedError"
          ? "The camera was not allowed: allow it in the browser's settings for this site, or use a scanner."
          : `The camera could not start (${err.name}): use a scanner or type the code.`,
      );
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    start.hidden = true;
    stop.hidden = false;
    await video.play();
    say("Hold the pack's code in front of the camera.");
    if (!(await nativeDetector())) {
      try {
        await loadZxing();
      } catch (err) {
        stopCamera();
        say(`${err.message}: use a scanner or type the code.`);
        return;
      }
    }
    tick();
  }

  // getUserMedia exists only in a secure context (HTTPS, or http://localhost).
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    document.getElementById("camera-unavailable").hidden = false;
    return;
  }
  root.hidden = false;
  start.addEventListener("click", startCamera);
  stop.addEventListener("click", () => {
    stopCamera();
    say("");
  });
})();
