// Enhancements only: every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons. The clipboard API exists only in secure contexts (HTTPS
  // or localhost); a registry served over plain HTTP copies the selected
  // field the older way, and failing that asks for Ctrl+C.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      let copied = false;
      if (navigator.clipboard) {
        try {
          await navigator.clipboard.writeText(field.value);
          copied = true;
        } catch { /* refused: try the selection below */ }
      }
      if (!copied) {
        field.select();
        copied = document.execCommand("copy");
      }
      button.textContent = copied ? "Copied" : "Press Ctrl+C";
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  }

  // Selects (sort, ref pickers) apply as soon as they change; search
  // boxes search as you type, after a pause.
  for (const field of document.querySelectorAll("[data-autosubmit]")) {
    if (field.tagName === "SELECT") {
      field.addEventListener("change", () => field.form.requestSubmit());
    } else {
      let timer;
      field.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          sessionStorage.setItem("heater-typing", field.id);
          field.form.requestSubmit();
        }, 400);
      });
      // Back in the box after the page reloaded, the caret at the end.
      if (sessionStorage.getItem("heater-typing") === field.id) {
        sessionStorage.removeItem("heater-typing");
        field.focus();
        field.setSelectionRange(field.value.length, field.value.length);
      }
    }
  }

  // Table filters: hide the rows that do not match, without a round trip.
  for (const field of document.querySelectorAll("input[data-filter]")) {
    const table = document.getElementById(field.dataset.filter);
    field.addEventListener("input", () => {
      const wanted = field.value.trim().toLowerCase();
      for (const row of table.tBodies[0].rows) {
        row.hidden = !row.cells[0].textContent.toLowerCase().includes(wanted);
      }
    });
    field.form.addEventListener("submit", (event) => event.preventDefault());
  }
});
