/* The inbox's reply box: as the merchant types, the server says what the reply costs to this
 * number (parts and credits, its own estimate); this script only shows the answer. */
(function () {
  "use strict";

  const form = document.getElementById("reply-form");
  const body = form && form.querySelector("textarea[name=body]");
  const line = document.getElementById("reply-estimate");
  if (!form || !body || !line) {
    return;
  }
  const DELAY_MS = 200;
  let timer = null;
  let latest = 0;

  async function refresh() {
    const mine = ++latest;
    const data = new FormData();
    data.append("body", body.value);
    const token = form.querySelector("input[name=csrfmiddlewaretoken]");
    try {
      const response = await fetch(form.dataset.previewUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.value : "", Accept: "application/json" },
      });
      if (!response.ok || mine !== latest) {
        return;
      }
      line.textContent = (await response.json()).line;
    } catch (error) {
      // Offline for a moment: the estimate is shown again after the next keystroke or the submit.
    }
  }

  body.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, DELAY_MS);
  });
})();
