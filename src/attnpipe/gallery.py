"""results/index.html: the whole sweep on one static page that opens from the file system.

A grid of prompts (rows) x weight settings (columns). Each cell: a thumbnail of the video's last frame
(click: the video plays in a dialog), the attention weights as a coloured table with their numbers (read
from attend.pt, formatted like the video), and links to the video, still and CSVs. Check boxes filter
prompts and weight settings. Everything is inline (CSS, JavaScript) or a relative link: no network,
no server. The combinations, their order, texts and paths come from summary.csv.
"""

import math
from pathlib import Path

import pandas as pd
import torch
from PIL import Image

from .atomicfile import atomic_path
from .render.numbers import fmt, token_label
from .stagefiles import read_stage
from .summary import read_summary
from .templates import macro, render

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
    """'#rrggbb' at t in [0, 1] along evenly spaced colour stops (as render.colours.ramp)."""
    rgb = [[int(s[i:i + 2], 16) for i in (1, 3, 5)] for s in stops]
    pos = 0.0 if math.isnan(t) else min(max(t, 0.0), 1.0) * (len(stops) - 1)  # NaN: the first colour
    lo = min(int(pos), len(stops) - 2)
    frac = pos - lo
    mixed = [round(a * (1 - frac) + b * frac) for a, b in zip(rgb[lo], rgb[lo + 1])]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def text_color(background: str) -> str:
    r, g, b = (int(background[i:i + 2], 16) for i in (1, 3, 5))
    return "#000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 else "#fff"


def heatmap_tables(attention: dict, precision: int, stops: list[str]) -> list[dict]:
    """The (heads, T, T) attention weights as one table per head for heatmap.html.j2: labels, and per cell
    its colours, its numbers (left out above MAX_TEXT_CELLS tokens) and a title naming query and key.

    Weights in [0, 1] are coloured on an absolute scale (like the scene); others (softmax: false)
    from their own minimum to maximum."""
    weights = attention["tensor"]
    finite = weights[torch.isfinite(weights)]
    lo, hi = (0.0, 1.0) if finite.numel() == 0 or (finite.min() >= 0 and finite.max() <= 1) else (
        float(finite.min()), float(finite.max()))
    rows, cols = attention["row_labels"], attention["column_labels"]
    show_numbers = len(rows) <= MAX_TEXT_CELLS and len(cols) <= MAX_TEXT_CELLS
    tables = []
    for h, head in enumerate(weights.tolist()):
        body = []
        for label, values in zip(rows, head):
            cells = []
            for col, v in zip(cols, values):
                if math.isfinite(v):
                    background = ramp_color(stops, (v - lo) / (hi - lo) if hi > lo else 0.0)
                else:
                    background = NONFINITE_COLOR
                text = fmt(v, precision)
                cells.append({"background": background, "color": text_color(background),
                              "title": f"{label} → {col}: {text}", "text": text if show_numbers else ""})
            body.append({"title": label, "label": token_label(label), "cells": cells})
        tables.append({
            "caption": f"head {h}" if weights.shape[0] > 1 else None,
            "columns": [{"title": c, "label": token_label(c)} for c in cols],
            "rows": body,
        })
    return tables


def heatmap_html(attention: dict, precision: int, stops: list[str]) -> str:
    """heatmap_tables as HTML: one coloured <table> per head, numbers in the cells."""
    return str(macro("heatmap.html.j2", "heatmaps")(heatmap_tables(attention, precision, stops)))


def _options(row) -> str:
    heads = f"{row.heads} head{'s' if row.heads != '1' else ''}"
    return f"scale {row.scale} · causal {row.causal.lower()} · softmax {row.softmax.lower()} · {heads}"


def _cell(row, root: Path, thumb_size: tuple[int, int], precision: int, stops: list[str]) -> dict:
    folder = Path(row.attention_csv).parent
    attention = read_stage(root / folder / "attend.pt")["attention"]
    stats = [f"scores {fmt(float(row.min_score), precision)} … {fmt(float(row.max_score), precision)}"]
    if row.mean_entropy:
        stats.append(f"mean entropy {fmt(float(row.mean_entropy), precision)} nats")
    links = [{"href": row.video, "label": "video"}, {"href": row.still, "label": "still"}] + [
        {"href": getattr(row, name + "_csv"), "label": f"{name}.csv"} for name in CSV_LINKS]
    return {
        "empty": False, "prompt": row.prompt, "weights": row.weights, "video": row.video,
        "title": f"{row.weights} / {row.prompt}: “{row.text}”",
        "thumbnail": thumbnail_path(row.still).as_posix(), "width": thumb_size[0], "height": thumb_size[1],
        "stats": stats, "heatmaps": heatmap_tables(attention, precision, stops), "links": links,
    }


def gallery_html(summary: pd.DataFrame, root: Path, thumb_sizes: dict, settings: dict) -> str:
    """The page for `summary` (rows as read from summary.csv, all strings); thumb_sizes: still -> (w, h)."""
    precision, stops = settings["precision"], RAMPS[settings["scheme"]]
    prompts = dict.fromkeys(summary["prompt"])
    weights = list(dict.fromkeys(summary["weights"]))
    by_key = {(r.prompt, r.weights): r for r in summary.itertuples(index=False)}
    first = {w: next(r for r in summary.itertuples(index=False) if r.weights == w) for w in weights}
    texts = {r.prompt: r for r in summary.itertuples(index=False)}
    rows = [{
        "prompt": p, "text": texts[p].text, "n_tokens": texts[p].n_tokens,
        "cells": [_cell(by_key[p, w], root, thumb_sizes[by_key[p, w].still], precision, stops)
                  if (p, w) in by_key else {"empty": True, "prompt": p, "weights": w} for w in weights],
    } for p in prompts]
    return render(
        "index.html.j2",
        title=f"attnpipe: {len(prompts)} prompts × {len(weights)} weight settings",
        combinations=len(summary),
        prompt_boxes=[{"value": p, "label": f"{p} (“{texts[p].text}”)" if texts[p].text != p else p}
                      for p in prompts],
        weight_boxes=[{"value": w, "label": w} for w in weights],
        weights=[{"name": w, "options": _options(first[w])} for w in weights],
        rows=rows,
        legend={"low": ramp_color(stops, 0), "mid": ramp_color(stops, 0.5), "high": ramp_color(stops, 1)},
    )


def write_gallery(summary_csv, page, settings: dict) -> list[Path]:
    """Thumbnails beside each still and `page` (in the summary's folder); returns the thumbnails written."""
    root = Path(summary_csv).parent
    summary = read_summary(summary_csv)
    thumb_sizes, written = {}, []
    for still in summary["still"]:
        thumbnail = root / thumbnail_path(still)
        thumb_sizes[still] = write_thumbnail(root / still, thumbnail)
        written.append(thumbnail)
    with atomic_path(page) as tmp:
        Path(tmp).write_text(gallery_html(summary, root, thumb_sizes, settings), encoding="utf-8")
    return written
