/* The SMS template editor. The server computes everything (rendering, parts, characters
 * left, special characters, cost); this script only sends the text as the merchant types
 * and shows the answer. */
(function () {
  "use strict";

  const panel = document.getElementById("sms-editor");
  const body = document.getElementById("id_body");
  if (!panel || !body) {
    return;
  }
  const $ = (id) => document.getElementById(id);
  const csrfToken = () => {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  };
  const DELAY_MS = 200;
  let timer = null;
  let latest = 0;

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
  }

  function show(preview) {
    const text = $("sms-preview-text");
    if (!text) {
      return;
    }
    text.textContent = preview.text;
    $("sms-counter").textContent = preview.counter;
    const warning = $("sms-warning");
    warning.textContent = preview.warning;
    warning.hidden = !preview.warning;
    $("sms-transliterated").hidden = !preview.transliterated;
    const longest = $("sms-longest");
    longest.textContent = preview.longest_text;
    longest.classList.toggle("is-too-long", preview.too_long);
    $("sms-cost").textContent = preview.cost_line;
    const errors = $("sms-errors");
    errors.replaceChildren(...preview.errors.map((message) => {
      const item = document.createElement("li");
      item.textContent = message;
      return item;
    }));
    errors.hidden = preview.errors.length === 0;
  }

  async function refresh() {
    const mine = ++latest;
    const data = new FormData();
    data.append("body", body.value);
    data.append("template", panel.dataset.template || "");
    // A send page previews the text for its one recipient (the server checks they are the shop's).
    for (const key of ["order", "customer"]) {
      if (panel.dataset[key]) {
        data.append(key, panel.dataset[key]);
      }
    }
    const shop = document.getElementById("id_shop");
    if (shop) {
      data.append("shop", shop.value);
    }
    try {
      const response = await post(panel.dataset.previewUrl, data);
      if (!response.ok || mine !== latest) {
        return; // an answer to older text arrived late: a newer one is on its way
      }
      show(await response.json());
    } catch (error) {
      // offline for a moment: the next keystroke asks again
    }
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, DELAY_MS);
  }

  function insertToken(token) {
    body.focus();
    const start = body.selectionStart ?? body.value.length;
    const end = body.selectionEnd ?? start;
    body.setRangeText(token, start, end, "end");
    body.dispatchEvent(new Event("input", { bubbles: true }));
  }

  body.addEventListener("input", schedule);
  const shop = document.getElementById("id_shop");
  if (shop) {
    shop.addEventListener("change", schedule);
  }
  panel.querySelectorAll(".sms-token").forEach((button) => {
    button.addEventListener("click", () => insertToken(button.dataset.token));
  });

  const eye = $("sms-eye");
  if (eye && panel.dataset.toggleUrl) {
    eye.addEventListener("click", async (event) => {
      event.preventDefault(); // flip in place, keeping the text being edited
      const response = await post(panel.dataset.toggleUrl, new FormData());
      if (!response.ok) {
        return;
      }
      const state = await response.json();
      eye.classList.toggle("is-active", state.active);
      eye.classList.toggle("is-off", !state.active);
      eye.setAttribute("aria-pressed", String(state.active));
      eye.title = state.title;
      eye.setAttribute("aria-label", state.title);
      $("sms-eye-label").textContent = state.title;
      const checkbox = document.getElementById("id_active");
      if (checkbox) {
        checkbox.checked = state.active; // saving the form must not undo the eye
      }
    });
  }

  const reset = $("sms-reset");
  if (reset) {
    reset.addEventListener("click", (event) => {
      if (!window.confirm(reset.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }
})();
