"""results/index.html: the whole sweep on one static page that opens from the file system.

A grid of prompts (rows) x weight settings (columns). Each cell: a thumbnail of the video's last frame
(click: the video plays in a dialog), the attention weights as a coloured table with their numbers (read
from attend.pt, formatted like the video), and links to the video, still and CSVs. Check boxes filter
prompts and weight settings. Everything is inline (CSS, JavaScript) or a relative link: no network,
no server. The combinations, their order, texts and paths come from summary.csv.
"""

import html
import math
from pathlib import Path

import pandas as pd
import torch
from PIL import Image

from .render.numbers import fmt, token_label
from .stagefiles import atomic_path, read_stage
from .summary import read_summary

# The scene's colour ramps for probabilities (attnpipe.render.scene.SCHEMES[scheme]["low"]), low -> high;
# "default" is viridis-like and colour-blind safe. tests/test_gallery.py checks they stay the same.
RAMPS = {
    "default": ["#440154", "#21918c", "#fde725"],
    "grey": ["#ffffff", "#808080", "#000000"],
}
NONFINITE_COLOR = "#3a3a3a"
THUMBNAIL_WIDTH = 320
MAX_TEXT_CELLS = 12  # like the scene: above this many tokens the heatmap shows colours, numbers on hover
CSV_LINKS = ["hidden_states", "queries", "keys", "values", "scores", "scaled_scores", "attention", "output"]


def thumbnail_path(still) -> Path:
    return Path(still).with_name("thumbnail.png")


def write_thumbnail(still, thumbnail) -> tuple[int, int]:
    """A THUMBNAIL_WIDTH-wide PNG of the still (never wider than the still); returns its size."""
    with Image.open(still) as image:
        image = image.convert("RGB")
        image.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * image.height // image.width or 1))
        with atomic_path(thumbnail) as tmp:
            image.save(tmp, format="PNG")  # optimize=True is 8x slower for ~20 % smaller files
        return image.size


def ramp_color(stops: list[str], t: float) -> str:
    """'#rrggbb' at t in [0, 1] along evenly spaced colour stops (as the scene's _ramp)."""
    rgb = [[int(s[i:i + 2], 16) for i in (1, 3, 5)] for s in stops]
    pos = 0.0 if math.isnan(t) else min(max(t, 0.0), 1.0) * (len(stops) - 1)  # NaN: the first colour
    lo = min(int(pos), len(stops) - 2)
    frac = pos - lo
    mixed = [round(a * (1 - frac) + b * frac) for a, b in zip(rgb[lo], rgb[lo + 1])]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def text_color(background: str) -> str:
    r, g, b = (int(background[i:i + 2], 16) for i in (1, 3, 5))
    return "#000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 else "#fff"


def heatmap_html(attention: dict, precision: int, stops: list[str]) -> str:
    """The (heads, T, T) attention weights as one coloured <table> per head, numbers in the cells.

    Weights in [0, 1] are coloured on an absolute scale (like the scene); others (softmax: false)
    from their own minimum to maximum."""
    weights = attention["tensor"]
    finite = weights[torch.isfinite(weights)]
    lo, hi = (0.0, 1.0) if finite.numel() == 0 or (finite.min() >= 0 and finite.max() <= 1) else (
        float(finite.min()), float(finite.max()))
    rows, cols = attention["row_labels"], attention["column_labels"]
    show_numbers = len(rows) <= MAX_TEXT_CELLS and len(cols) <= MAX_TEXT_CELLS
    esc = html.escape
    tables = []
    for h, head in enumerate(weights.tolist()):
        caption = f"<caption>head {h}</caption>" if weights.shape[0] > 1 else ""
        header = "".join(f'<th title="{esc(c)}">{esc(token_label(c))}</th>' for c in cols)
        body = []
        for label, values in zip(rows, head):
            cells = []
            for col, v in zip(cols, values):
                if math.isfinite(v):
                    bg = ramp_color(stops, (v - lo) / (hi - lo) if hi > lo else 0.0)
                else:
                    bg = NONFINITE_COLOR
                text = fmt(v, precision)
                shown = esc(text) if show_numbers else ""
                cells.append(f'<td style="background:{bg};color:{text_color(bg)}" '
                             f'title="{esc(label)} → {esc(col)}: {esc(text)}">{shown}</td>')
            body.append(f'<tr><th title="{esc(label)}">{esc(token_label(label))}</th>{"".join(cells)}</tr>')
        tables.append(f'<table class="heatmap">{caption}<tr><th></th>{header}</tr>{"".join(body)}</table>')
    return f'<div class="heatmaps">{"".join(tables)}</div>'


def _options(row) -> str:
    heads = f"{row.heads} head{'s' if row.heads != '1' else ''}"
    return f"scale {row.scale} · causal {row.causal.lower()} · softmax {row.softmax.lower()} · {heads}"


def _cell(row, root: Path, thumb_size: tuple[int, int], precision: int, stops: list[str]) -> str:
    esc = html.escape
    folder = Path(row.attention_csv).parent
    attention = read_stage(root / folder / "attend.pt")["attention"]
    thumbnail = thumbnail_path(row.still).as_posix()
    title = f"{row.weights} / {row.prompt}: “{row.text}”"
    stats = [f"scores {fmt(float(row.min_score), precision)} … {fmt(float(row.max_score), precision)}"]
    if row.mean_entropy:
        stats.append(f"mean entropy {fmt(float(row.mean_entropy), precision)} nats")
    links = [f'<a href="{esc(row.video)}">video</a>', f'<a href="{esc(row.still)}">still</a>'] + [
        f'<a href="{esc(getattr(row, name + "_csv"))}">{name}.csv</a>' for name in CSV_LINKS]
    return (
        f'<td class="cell" data-prompt="{esc(row.prompt)}" data-weights="{esc(row.weights)}">'
        f'<a class="play" href="{esc(row.video)}" data-title="{esc(title)}" title="play the video">'
        f'<img src="{esc(thumbnail)}" width="{thumb_size[0]}" height="{thumb_size[1]}" loading="lazy" '
        f'alt="last frame of the video for {esc(title)}"></a>'
        f'<p class="stats">{esc(" · ".join(stats))}</p>'
        f"{heatmap_html(attention, precision, stops)}"
        f'<p class="files">{" · ".join(links)}</p></td>'
    )


def _checkboxes(name: str, values: dict) -> str:
    boxes = "".join(
        f'<label><input type="checkbox" name="{name}" value="{html.escape(v)}" checked> {html.escape(label)}</label>'
        for v, label in values.items())
    return (f'{boxes} <button type="button" data-set="{name}" data-on="1">all</button>'
            f'<button type="button" data-set="{name}" data-on="0">none</button>')


def gallery_html(summary: pd.DataFrame, root: Path, thumb_sizes: dict, settings: dict) -> str:
    """The page for `summary` (rows as read from summary.csv, all strings); thumb_sizes: still -> (w, h)."""
    esc = html.escape
    precision, stops = settings["precision"], RAMPS[settings["scheme"]]
    prompts = dict.fromkeys(summary["prompt"])
    weights = list(dict.fromkeys(summary["weights"]))
    by_key = {(r.prompt, r.weights): r for r in summary.itertuples(index=False)}
    first = {w: next(r for r in summary.itertuples(index=False) if r.weights == w) for w in weights}
    texts = {r.prompt: r for r in summary.itertuples(index=False)}
    head = "".join(f'<th data-weights="{esc(w)}">{esc(w)}<br><small>{esc(_options(first[w]))}</small></th>'
                   for w in weights)
    body = []
    for p in prompts:
        cells = "".join(
            _cell(by_key[p, w], root, thumb_sizes[by_key[p, w].still], precision, stops) if (p, w) in by_key
            else f'<td class="empty" data-prompt="{esc(p)}" data-weights="{esc(w)}"></td>'
            for w in weights)
        info = texts[p]
        body.append(f'<tr data-prompt="{esc(p)}"><th scope="row">{esc(p)}<br><small>“{esc(info.text)}”, '
                    f'{esc(info.n_tokens)} tokens</small></th>{cells}</tr>')
    low, high = ramp_color(stops, 0), ramp_color(stops, 1)
    prompt_labels = {p: f"{p} (“{texts[p].text}”)" if texts[p].text != p else p for p in prompts}
    return PAGE.format(
        title=esc(f"attnpipe: {len(prompts)} prompts × {len(weights)} weight settings"),
        n=len(summary), prompt_boxes=_checkboxes("prompt", prompt_labels),
        weight_boxes=_checkboxes("weights", {w: w for w in weights}),
        head=head, body="\n".join(body), low=low, high=high, mid=ramp_color(stops, 0.5),
        style=STYLE, script=SCRIPT,
    )


def write_gallery(summary_csv, page, settings: dict) -> list[Path]:
    """Thumbnails beside each still and `page` (in the summary's folder); returns the thumbnails written."""
    root = Path(summary_csv).parent
    summary = read_summary(summary_csv)
    summary = summary[summary["still"] != ""]  # combinations without a video (rotary models, for now)
    thumb_sizes, written = {}, []
    for still in summary["still"]:
        thumbnail = root / thumbnail_path(still)
        thumb_sizes[still] = write_thumbnail(root / still, thumbnail)
        written.append(thumbnail)
    with atomic_path(page) as tmp:
        Path(tmp).write_text(gallery_html(summary, root, thumb_sizes, settings), encoding="utf-8")
    return written


STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:.6em 1em;background:#fff;border-bottom:1px solid #ddd}
h1{font-size:1.3em;margin:.2em 0}
fieldset{display:inline-block;vertical-align:top;border:1px solid #ccc;margin:.2em .4em .2em 0;max-width:48em}
label{margin-right:.8em;white-space:nowrap}
.legend span{display:inline-block;width:8em;height:.9em;vertical-align:middle}
main{overflow:auto}
#grid{border-collapse:collapse;margin:.5em}
#grid>thead th{position:sticky;top:0;background:#fff;z-index:1}
#grid th,#grid td.cell,#grid td.empty{border:1px solid #ddd;padding:.4em;vertical-align:top;text-align:left}
#grid th small{font-weight:normal;color:#555}
td.cell img{display:block;border:1px solid #999;max-width:100%;height:auto}
p.stats,p.files{font-size:.8em;margin:.3em 0;max-width:26em}
.heatmaps{display:flex;flex-wrap:wrap;gap:.4em}
table.heatmap{border-collapse:collapse;font-size:11px}
table.heatmap caption{font-size:11px;text-align:left}
table.heatmap th{font-weight:normal;color:#333;padding:0 3px;max-width:5em;overflow:hidden;text-overflow:ellipsis}
table.heatmap td{min-width:2.2em;height:1.5em;padding:0 3px;text-align:center}
dialog{max-width:95vw;padding:.6em}
dialog video{display:block;max-width:90vw;max-height:75vh}
dialog h2{font-size:1.1em;margin:.2em 0}
"""

SCRIPT = """
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
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p>Click a still to play its video. Heatmaps: the attention weights (rows: queries, columns: keys; hover a cell
for its labels) <span class="legend">low <span style="background:linear-gradient(to right,{low},{mid},{high})">
</span> high</span>. Paths are relative to this page; summary.csv holds the same combinations.</p>
<form id="filters">
<fieldset><legend>Prompts</legend>{prompt_boxes}</fieldset>
<fieldset><legend>Weight settings</legend>{weight_boxes}</fieldset>
<output id="shown">{n} combinations</output>
</form>
</header>
<main>
<table id="grid">
<thead><tr><th>prompt \\ weight setting</th>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</main>
<dialog id="player">
<form method="dialog"><button>close</button></form>
<h2></h2>
<video controls muted playsinline preload="metadata"></video>
<p class="status"></p>
<p class="files"></p>
</dialog>
<script>{script}</script>
</body>
</html>
"""
