// Atelier kiosk at a machine: check-in and check-out by badge (a USB reader types the badge and presses
// Enter), and scrap, through the records API with the kiosk's own cookie.
//
// While a request is in flight its form's buttons are disabled; after every answer the page's state (who is
// checked in, the forms) is read again from the server and swapped in, and the message stays: the server's
// own message, already in the page's language (``detail.message``), or a word of ours when there is none.
(function () {
  "use strict";

  const K = JSON.parse(document.getElementById("kiosk").textContent);
  const message = document.getElementById("message");

  function say(text, ok) {
    message.textContent = text;
    message.className = "message shown " + (ok ? "ok" : "bad");
  }

  // A key per scrap declaration, kept until it is stored: a retry or a double click sends the same one and
  // the server declares once. getRandomValues also works on a plain-HTTP workshop network.
  function drawKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  let scrapKey = drawKey();

  function explain(status, data) {
    const detail = data && data.detail;
    if (detail && typeof detail === "object" && !Array.isArray(detail) && detail.message) return detail.message;
    if (Array.isArray(detail) && detail.length && detail[0].msg) return K.words.invalid + " (" + detail[0].msg + ")";
    if (typeof detail === "string") return detail;
    return K.words.invalid + " (" + status + ")";
  }

  async function call(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(Object.assign({ machine: K.machine, site: K.site }, body)),
      });
    } catch (e) {
      say(K.words.offline, false);
      return false;
    }
    if (response.ok) return true;
    let data = null;
    try { data = await response.json(); } catch (e) { /* not JSON: the status says enough */ }
    say(explain(response.status, data), false);
    return false;
  }

  // One request at a time per form: its buttons are disabled until the answer and the fresh state are in.
  async function busy(form, work) {
    const buttons = form.querySelectorAll("button");
    if (form.dataset.busy === "yes") return;
    form.dataset.busy = "yes";
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      await work();
    } finally {
      form.dataset.busy = "no";
      buttons.forEach(function (b) { b.disabled = false; });
    }
  }

  // ``keep``: after a refused request, what the student typed in that form, put back into the fresh form.
  async function refresh(keep) {
    try {
      const response = await fetch(location.pathname + location.search, { credentials: "same-origin" });
      if (response.ok) {
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById("kiosk-state");
        if (fresh) document.getElementById("kiosk-state").replaceWith(document.adoptNode(fresh));
      }
    } catch (e) {
      say(K.words.offline, false);
    }
    if (keep) {
      const form = document.getElementById(keep.id);
      if (form) {
        Object.keys(keep.values).forEach(function (name) {
          const field = form.elements.namedItem(name);
          if (field && name !== "badge") field.value = keep.values[name];
        });
      }
    }
    bind();
  }

  function typed(form) {
    const values = {};
    new FormData(form).forEach(function (value, name) { values[name] = String(value); });
    return { id: form.id, values: values };
  }

  function onBadge(formId, path, extra, done) {
    const form = document.getElementById(formId);
    if (!form) return;
    const badge = form.querySelector("input[name=badge]");
    badge.focus();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      busy(form, async function () {
        const body = Object.assign({ badge: badge.value.trim() }, extra ? extra(form) : {});
        const keep = typed(form);
        badge.value = "";
        const ok = await call(path, body);
        if (ok) say(done, true);
        await refresh(ok ? null : keep);
      });
    });
  }

  function bind() {
    onBadge("checkin", "/api/sessions/check-in", function (form) {
      const order = form.querySelector("select[name=order_id]").value;
      return order ? { order_id: Number(order) } : {};
    }, K.words.checked_in);
    onBadge("checkout", "/api/sessions/check-out", null, K.words.checked_out);
    const scrap = document.getElementById("scrap");
    scrap.addEventListener("submit", function (event) {
      event.preventDefault();
      busy(scrap, async function () {
        const form = new FormData(scrap);
        const body = {
          order_id: Number(form.get("order_id")),
          quantity: Number(form.get("quantity")),
          reason: String(form.get("reason")).trim(),
          inspected_by: String(form.get("inspected_by")).trim(),
          idempotency_key: scrapKey,
        };
        const ok = await call("/api/scrap", body);
        if (ok) {
          scrapKey = drawKey();
          say(K.words.scrapped, true);
        }
        await refresh(ok ? null : typed(scrap));
      });
    });
  }

  bind();
})();
