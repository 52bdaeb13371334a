"use strict";
// Hover an attention map drawn as an image (img.map): its weight for that query and key, read from the
// combination's attention.js (loaded on the first hover: a page opened from the file system may load a
// script, but not read an image's pixels). attention.js calls attnpipeMap(key, {rows, cols, heads, values}).
const mapData = new Map(), mapLoading = new Set();
const mapTip = document.createElement("div");
mapTip.id = "maptip";
mapTip.hidden = true;
document.body.append(mapTip);
let lastHover = null;
function attnpipeMap(key, payload) {
  const bytes = Uint8Array.from(atob(payload.values), c => c.charCodeAt(0));
  mapData.set(key, {...payload, values: new Float32Array(bytes.buffer)});  // float32, little-endian
  mapLoading.delete(key);
  if (lastHover) showWeight(lastHover);
}
function formatWeight(v) {  // 4 significant digits, a real minus sign, −∞ for a masked score
  if (!Number.isFinite(v)) return v < 0 ? "−∞" : "∞";
  return String(Number(v.toPrecision(4))).replace("-", "−");
}
function loadMap(img) {
  const key = img.dataset.map;
  if (mapData.has(key) || mapLoading.has(key)) return;
  mapLoading.add(key);
  const script = document.createElement("script");
  script.src = img.dataset.script;
  script.onerror = () => { mapLoading.delete(key); mapTip.textContent = `cannot load ${img.dataset.script}`; };
  document.head.append(script);
}
function showWeight(event) {
  const img = event.target instanceof Element ? event.target.closest("img.map") : null;
  if (!img) { mapTip.hidden = true; lastHover = null; return; }
  lastHover = event;
  const data = mapData.get(img.dataset.map);
  mapTip.style.left = `${event.clientX + 14}px`;
  mapTip.style.top = `${event.clientY + 14}px`;
  mapTip.hidden = false;
  if (!data) { mapTip.textContent = "loading…"; loadMap(img); return; }
  const box = img.getBoundingClientRect(), rows = data.rows.length, cols = data.cols.length;
  const i = Math.min(rows - 1, Math.max(0, Math.floor((event.clientY - box.top) / box.height * rows)));
  const j = Math.min(cols - 1, Math.max(0, Math.floor((event.clientX - box.left) / box.width * cols)));
  const head = Number(img.dataset.head);
  const value = data.values[(head * rows + i) * cols + j];
  mapTip.textContent = `head ${head} · query ${data.rows[i]} → key ${data.cols[j]}: ${formatWeight(value)}`;
}
document.addEventListener("mousemove", showWeight);
document.addEventListener("mouseleave", () => { mapTip.hidden = true; lastHover = null; });
