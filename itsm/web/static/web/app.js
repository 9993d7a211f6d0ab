// The workspace's behaviour, without a build step: SLA countdowns, keyboard shortcuts, the
// priority preview of forms and "select all" of bulk actions. Everything is progressive:
// without JavaScript every page still works with plain links and form posts.
(function () {
  "use strict";

  // --- SLA countdown -----------------------------------------------------------------------
  // <time class="sla" datetime="<due ISO>" data-warn-at="<first warning ISO>"
  //       [data-paused data-remaining="<seconds>"]>, rendered by incidents' {% sla_countdown %};
  //       an element with data-server-now="<ISO>" on the page corrects the browser's clock.
  let clockSkew = 0; // server time minus browser time, from the page that was served

  function humanDuration(ms) {
    const minutes = Math.round(Math.abs(ms) / 60000);
    if (minutes < 1) return "<1m";
    const days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), rest = minutes % 60;
    if (days) return days + "d " + hours + "h";
    if (hours) return hours + "h " + String(rest).padStart(2, "0") + "m";
    return rest + "m";
  }

  function renderCountdown(el, now) {
    const label = el.querySelector(".sla-text") || el;
    if (el.hasAttribute("data-paused")) {
      // A paused clock does not tick: what is left is what was left when it paused.
      label.textContent = "paused, " + humanDuration(Number(el.dataset.remaining || 0) * 1000) + " left";
      return;
    }
    const due = Date.parse(el.getAttribute("datetime"));
    if (isNaN(due)) return;
    if (!el.dataset.exact) {
      el.dataset.exact = new Date(due).toLocaleString();
      el.title = "Due " + el.dataset.exact;
      el.setAttribute("aria-label", el.title);
    }
    const remaining = due - now;
    let state = "sla-ok";
    if (remaining <= 0) {
      state = "sla-breached";
      label.textContent = "breached " + humanDuration(remaining) + " ago";
    } else {
      // data-warn-at: when the policy's first warning fires (the server's own timer time).
      const warnAt = Date.parse(el.dataset.warnAt || "");
      if (!isNaN(warnAt) && now >= warnAt) state = "sla-warning";
      label.textContent = humanDuration(remaining) + " left";
    }
    el.classList.remove("sla-ok", "sla-warning", "sla-breached", "sla-paused");
    el.classList.add(state);
    el.dataset.state = state.slice(4);
  }

  function tick() {
    const now = Date.now() + clockSkew;
    document.querySelectorAll("time.sla[datetime]").forEach((el) => renderCountdown(el, now));
  }

  // --- Keyboard shortcuts --------------------------------------------------------------------
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function queueRows() {
    return Array.from(document.querySelectorAll("[data-queue] tr[data-href]"));
  }

  function select(rows, index) {
    rows.forEach((row) => row.classList.remove("is-selected"));
    const row = rows[Math.max(0, Math.min(index, rows.length - 1))];
    if (!row) return;
    row.classList.add("is-selected");
    const link = row.querySelector("a");
    if (link) link.focus();
    else row.scrollIntoView({ block: "nearest" });
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const dialog = document.getElementById("shortcuts");
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "?") {
      if (dialog && !dialog.open) dialog.showModal();
      event.preventDefault();
      return;
    }
    if (event.key === "j" || event.key === "k") {
      const rows = queueRows();
      if (!rows.length) return;
      const current = rows.findIndex((row) => row.classList.contains("is-selected") || row.contains(document.activeElement));
      select(rows, current < 0 ? 0 : current + (event.key === "j" ? 1 : -1));
      event.preventDefault();
      return;
    }
    if (event.key === "Enter") {
      const row = document.querySelector("[data-queue] tr.is-selected[data-href]");
      if (row && !event.target.closest("a, button")) {
        window.location.assign(row.dataset.href);
        event.preventDefault();
      }
      return;
    }
    // Any other key: the page's element that declares it (data-shortcut="a" on a button,
    // data-shortcut="c" on a textarea, data-shortcut="/" on the search box).
    const target = document.querySelector('[data-shortcut="' + CSS.escape(event.key) + '"]');
    if (!target) return;
    event.preventDefault();
    if (target.matches("input, textarea, select")) {
      const details = target.closest("details");
      if (details) details.open = true;
      target.focus();
    } else {
      target.click();
    }
  }

  // --- Priority preview: impact × urgency → priority, from the tenant's matrix ---------------
  // <output data-priority-preview data-matrix="<json_script id>" data-impact="<field id>"
  //         data-urgency="<field id>">
  function previewPriorities(root) {
    root.querySelectorAll("output[data-priority-preview]").forEach((output) => {
      const source = document.getElementById(output.dataset.matrix);
      const impact = document.getElementById(output.dataset.impact);
      const urgency = document.getElementById(output.dataset.urgency);
      if (!source || !impact || !urgency) return;
      const data = JSON.parse(source.textContent);
      const update = () => {
        const priority = data.matrix[impact.value + "," + urgency.value];
        output.textContent = priority ? data.labels[priority] || "P" + priority : "—";
      };
      impact.addEventListener("change", update);
      urgency.addEventListener("change", update);
      update();
    });
  }

  // --- Bulk selection -------------------------------------------------------------------------
  function onChange(event) {
    const all = event.target.closest("input[data-select-all]");
    if (!all) return;
    document.querySelectorAll('input[name="' + all.dataset.selectAll + '"]').forEach((box) => {
      box.checked = all.checked;
    });
  }

  function setUp(root) {
    const served = document.querySelector("[data-server-now]");
    if (served) clockSkew = Date.parse(served.dataset.serverNow) - Date.now();
    previewPriorities(root);
    tick();
  }

  document.addEventListener("DOMContentLoaded", () => {
    setUp(document);
    window.setInterval(tick, 1000);
  });
  document.addEventListener("keydown", onKey);
  document.addEventListener("change", onChange);
  // Content swapped in by htmx (a refreshed queue, a new timeline entry) gets the same.
  document.addEventListener("htmx:load", (event) => setUp(event.target));
})();
