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
  let pendingBadge = null;

  function explain(status, data) {
    const detail = data && data.detail;
    if (detail && typeof detail === "object" && !Array.isArray(detail) && detail.message) return detail.message;
    if (Array.isArray(detail) && detail.length && detail[0].msg) return K.words.invalid + " (" + detail[0].msg + ")";
    if (typeof detail === "string") return detail;
    return K.words.invalid + " (" + status + ")";
  }

  // The answer as {ok, text}: the server's own message on a refusal. Said only once the fresh state is in, so
  // that a shown message means the page is ready for the next badge.
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
      return { ok: false, text: K.words.offline };
    }
    if (response.ok) return { ok: true, text: "" };
    let data = null;
    try { data = await response.json(); } catch (e) { /* not JSON: the status says enough */ }
    return { ok: false, text: explain(response.status, data) };
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
    let stale = false;
    try {
      const response = await fetch(location.pathname + location.search, { credentials: "same-origin" });
      stale = !response.ok;
      if (response.ok) {
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById("kiosk-state");
        if (fresh) {
          // Characters a reader is typing right now go on in the fresh badge field.
          const old = document.querySelector("#kiosk-state input[name=badge]");
          const typing = old ? old.value : "";
          document.getElementById("kiosk-state").replaceWith(document.adoptNode(fresh));
          const field = document.querySelector("#kiosk-state input[name=badge]");
          if (field && typing && pendingBadge === null) field.value = typing;
        }
      }
    } catch (e) {
      stale = true;
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
    // A badge scanned while the state was being read again: given to whichever badge form is now shown.
    if (pendingBadge !== null) {
      const scanned = pendingBadge;
      pendingBadge = null;
      const field = document.querySelector("#kiosk-state input[name=badge]");
      if (field) {
        field.value = scanned;
        field.form.requestSubmit();
      }
    }
    return !stale;
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
    // A reader's Enter while the last badge is still being answered: the browser does not submit a form whose
    // button is disabled, so the scan is kept here and given to the fresh form.
    badge.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || form.dataset.busy !== "yes") return;
      event.preventDefault();
      if (badge.value.trim()) pendingBadge = badge.value.trim();
      badge.value = "";
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.dataset.busy === "yes") return;
      busy(form, async function () {
        const body = Object.assign({ badge: badge.value.trim() }, extra ? extra(form) : {});
        const keep = typed(form);
        badge.value = "";
        const answer = await call(path, body);
        const fresh = await refresh(answer.ok ? null : keep);
        say((answer.ok ? done : answer.text) + (fresh ? "" : " " + K.words.offline), answer.ok);
      });
    });
  }

  function bind() {
    onBadge("checkin", "/api/sessions/check-in", function (form) {
      const select = form.querySelector("select[name=order_id]");
      const chosen = select.options[select.selectedIndex];
      if (!select.value) return {};
      // An order with several operations is offered once per operation this machine does.
      const operation = chosen && chosen.dataset.operation;
      return operation ? { order_id: Number(select.value), operation: Number(operation) } : { order_id: Number(select.value) };
    }, K.words.checked_in);
    // A master's first-part verdict: the master's badge ends the form like a student's ends a check-in.
    const firstPart = document.getElementById("first-part");
    if (firstPart) {
      onBadge("first-part", "/api/operations/" + encodeURIComponent(firstPart.dataset.operation) + "/first-part",
        function (form) {
          const data = new FormData(form);
          return {
            verdict: String(data.get("verdict") || "OK"),
            measured: String(data.get("measured") || "").trim(),
            note: String(data.get("note") || "").trim(),
          };
        }, K.words.approved);
      // The student's badge field keeps the focus: a master clicks into theirs.
      const out = document.querySelector("#checkout input[name=badge]");
      if (out) out.focus();
    }
    onBadge("checkout", "/api/sessions/check-out", null, K.words.checked_out);
    // One tap on a reason says why the machine stopped (the current or last stop).
    const stop = document.getElementById("stop");
    if (stop) {
      stop.addEventListener("submit", function (event) {
        event.preventDefault();
        const reason = event.submitter ? event.submitter.value : "";
        busy(stop, async function () {
          const answer = await call("/api/stops/classify", { started: stop.dataset.started, reason: reason });
          const fresh = await refresh(null);
          say((answer.ok ? K.words.classified : answer.text) + (fresh ? "" : " " + K.words.offline), answer.ok);
        });
      });
    }
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
        const answer = await call("/api/scrap", body);
        if (answer.ok) scrapKey = drawKey();
        const fresh = await refresh(answer.ok ? null : typed(scrap));
        say((answer.ok ? K.words.scrapped : answer.text) + (fresh ? "" : " " + K.words.offline), answer.ok);
      });
    });
  }

  bind();
})();
