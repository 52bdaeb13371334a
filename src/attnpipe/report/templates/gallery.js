"use strict";
const grid = document.getElementById("grid");
const shown = document.getElementById("shown");
function checked(name) {
  return new Set([...document.querySelectorAll(`input[name="${name}"]:checked`)].map(box => box.value));
}
function applyFilters() {
  const prompts = checked("prompt"), weights = checked("weights");
  for (const row of grid.tBodies[0].rows) row.hidden = !prompts.has(row.dataset.prompt);  // not the heatmaps' rows
  for (const cell of grid.querySelectorAll("[data-weights]")) cell.hidden = !weights.has(cell.dataset.weights);
  const visible = [...grid.querySelectorAll("td.cell")].filter(c => !c.hidden && !c.parentElement.hidden);
  shown.textContent = `${visible.length} of ${grid.querySelectorAll("td.cell").length} combinations shown`;
}
document.getElementById("filters").addEventListener("change", applyFilters);
for (const button of document.querySelectorAll("button[data-set]")) {
  button.addEventListener("click", () => {
    for (const box of document.querySelectorAll(`input[name="${button.dataset.set}"]`)) {
      box.checked = button.dataset.on === "1";
    }
    applyFilters();
  });
}
const player = document.getElementById("player");
const video = player.querySelector("video");
const status = player.querySelector(".status");
grid.addEventListener("click", event => {
  const link = event.target.closest("a.play");
  if (!link) return;
  event.preventDefault();
  player.querySelector("h2").textContent = link.dataset.title;
  player.querySelector(".files").innerHTML = link.closest("td").querySelector(".files").innerHTML;
  status.textContent = "";
  video.src = link.getAttribute("href");
  player.showModal();
  video.play().catch(err => { if (err.name !== "AbortError") status.textContent = `cannot play: ${err.message}`; });
});
video.addEventListener("error", () => {
  if (video.getAttribute("src")) status.textContent = "cannot load this video";
});
player.addEventListener("close", () => { video.pause(); video.removeAttribute("src"); video.load(); });
applyFilters();
