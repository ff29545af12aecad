// Atelier kiosk at a machine: check-in by badge (a USB reader types the badge and presses Enter),
// check-out and scrap, through the records API with the kiosk's own cookie.
(function () {
  "use strict";

  const K = JSON.parse(document.getElementById("kiosk").textContent);
  const message = document.getElementById("message");

  function say(text, ok) {
    message.textContent = text;
    message.className = "message shown " + (ok ? "ok" : "bad");
  }

  async function call(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(Object.assign({ machine: K.machine, site: K.site }, body)),
    });
    if (response.ok) return true;
    let detail = response.statusText;
    try {
      const data = await response.json();
      detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    } catch (e) { /* not JSON: keep the status text */ }
    say(detail, false);
    return false;
  }

  function done() {
    say(K.saved, true);
    setTimeout(function () { location.reload(); }, 600);
  }

  const checkin = document.getElementById("checkin");
  if (checkin) {
    const badge = document.getElementById("badge");
    badge.focus();
    checkin.addEventListener("submit", async function (event) {
      event.preventDefault();
      const order = document.getElementById("order").value;
      const body = { badge: badge.value.trim() };
      if (order) body.order_id = Number(order);
      badge.value = "";
      if (await call("/api/sessions/check-in", body)) done(); else badge.focus();
    });
  }

  const checkout = document.getElementById("checkout");
  if (checkout) {
    checkout.addEventListener("click", async function () {
      if (await call("/api/sessions/check-out", {})) done();
    });
  }

  document.getElementById("scrap").addEventListener("submit", async function (event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = {
      order_id: Number(form.get("order_id")),
      quantity: Number(form.get("quantity")),
      reason: String(form.get("reason")).trim(),
      inspected_by: String(form.get("inspected_by")).trim(),
    };
    if (await call("/api/scrap", body)) { event.target.reset(); done(); }
  });
})();
