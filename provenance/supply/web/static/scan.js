// The scan page's camera button, where the browser can read QR and DataMatrix codes itself;
// without it (or without JavaScript) the form still takes a keyboard-wedge scanner's input.
const input = document.getElementById("code");
if ("BarcodeDetector" in window) {
  const button = document.getElementById("camera");
  button.hidden = false;
  button.addEventListener("click", async () => {
    const detector = new BarcodeDetector({ formats: ["qr_code", "data_matrix"] });
    const video = document.getElementById("preview");
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.hidden = false;
    await video.play();
    const tick = async () => {
      const codes = await detector.detect(video);
      if (codes.length) {
        video.srcObject.getTracks().forEach((t) => t.stop());
        input.value = codes[0].rawValue;
        document.getElementById("scan-form").submit();
      } else {
        requestAnimationFrame(tick);
      }
    };
    tick();
  });
}
