// The desk's forms. A badge reader types the badge then Enter: in a field marked data-scan, Enter keeps the
// badge and moves on instead of submitting a form that may not be finished. Without this script Enter
// submits, and the server keeps everything typed if something is missing.
"use strict";
document.querySelectorAll("input[data-scan]").forEach((input) => {
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    input.value = input.value.trim();
    const form = input.form;
    const fields = form ? Array.from(form.querySelectorAll("input:not([type=hidden]), select, button")) : [];
    const next = fields[fields.indexOf(input) + 1];
    if (next) next.focus();
  });
});
// The set-up sheet's print button (the browser's own Print works without it).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
