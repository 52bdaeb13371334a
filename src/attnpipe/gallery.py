"""results/index.html: the whole sweep on one static page that opens from the file system.

A grid of prompts (rows) x weight settings (columns). Each cell: a thumbnail of the video's last frame
(click: the video plays in a dialog), the attention weights as a coloured table with their numbers (read
from attend.pt, formatted like the video), and links to the video, still and CSVs. Check boxes filter
prompts and weight settings. Everything is inline (CSS, JavaScript) or a relative link: no network,
no server. The combinations, their order, texts and links come from summary.csv; the attention weights
from each combination's attend.pt as the rule declares it.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from .atomicfile import atomic_path
from .layout import THUMBNAIL
from .render.colours import MAX_TEXT_CELLS, SCHEMES, hex_to_rgb, ramp, rgb_hex, text_colour_on
from .render.numbers import fmt, token_label
from .stagefiles import read_stage
from .summary import read_summary
from .templates import macro, render

THUMBNAIL_WIDTH = 320
CSV_LINKS = ["hidden_states", "queries", "keys", "values", "scores", "scaled_scores", "attention", "output"]


def thumbnail_path(still) -> Path:
    return Path(still).with_name(THUMBNAIL)


def write_thumbnail(still, thumbnail) -> tuple[int, int]:
    """A THUMBNAIL_WIDTH-wide PNG of the still (never wider than the still); returns its size."""
    with Image.open(still) as image:
        image = image.convert("RGB")
        image.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * image.height // image.width or 1))
        with atomic_path(thumbnail) as tmp:
            image.save(tmp, format="PNG")  # optimize=True is 8x slower for ~20 % smaller files
        return image.size


def ramp_color(stops: list[str], t: float) -> str:
    """'#rrggbb' at t in [0, 1] along evenly spaced colour stops (the video's render.colours.ramp)."""
    return rgb_hex(ramp(stops, np.float64(t)))


def heatmap_tables(attention: dict, precision: int, scheme: dict) -> list[dict]:
    """The (heads, T, T) attention weights as one table per head for heatmap.html.j2: labels, and per cell
    its colours (the video's palette `scheme`: its probability ramp, masked colour and text colour rule),
    its numbers (left out above MAX_TEXT_CELLS tokens) and a title naming query and key.

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
                    rgb = ramp(scheme["low"], np.float64((v - lo) / (hi - lo) if hi > lo else 0.0))
                else:
                    rgb = hex_to_rgb(scheme["masked"])
                text = fmt(v, precision)
                cells.append({"background": rgb_hex(rgb), "color": text_colour_on(rgb),
                              "title": f"{label} → {col}: {text}", "text": text if show_numbers else ""})
            body.append({"title": label, "label": token_label(label), "cells": cells})
        tables.append({
            "caption": f"head {h}" if weights.shape[0] > 1 else None,
            "columns": [{"title": c, "label": token_label(c)} for c in cols],
            "rows": body,
        })
    return tables


def heatmap_html(attention: dict, precision: int, scheme: dict) -> str:
    """heatmap_tables as HTML: one coloured <table> per head, numbers in the cells."""
    return str(macro("heatmap.html.j2", "heatmaps")(heatmap_tables(attention, precision, scheme)))


def _options(row) -> str:
    heads = f"{row.heads} head{'s' if row.heads != '1' else ''}"
    return f"scale {row.scale} · causal {row.causal.lower()} · softmax {row.softmax.lower()} · {heads}"


def _cell(row, attend_pt, thumb_size: tuple[int, int], precision: int, scheme: dict) -> dict:
    attention = read_stage(attend_pt)["attention"]
    stats = [f"scores {fmt(float(row.min_score), precision)} … {fmt(float(row.max_score), precision)}"]
    if row.mean_entropy:
        stats.append(f"mean entropy {fmt(float(row.mean_entropy), precision)} nats")
    links = [{"href": row.video, "label": "video"}, {"href": row.still, "label": "still"}] + [
        {"href": getattr(row, name + "_csv"), "label": f"{name}.csv"} for name in CSV_LINKS]
    return {
        "empty": False, "prompt": row.prompt, "weights": row.weights, "video": row.video,
        "title": f"{row.weights} / {row.prompt}: “{row.text}”",
        "thumbnail": thumbnail_path(row.still).as_posix(), "width": thumb_size[0], "height": thumb_size[1],
        "stats": stats, "heatmaps": heatmap_tables(attention, precision, scheme), "links": links,
    }


def gallery_html(summary: pd.DataFrame, attend_pts: dict, thumb_sizes: dict, settings: dict) -> str:
    """The page for `summary` (rows as read from summary.csv, all strings); attend_pts: (weights, prompt) ->
    that combination's attend.pt; thumb_sizes: still -> (w, h)."""
    precision, scheme = settings["precision"], SCHEMES[settings["scheme"]]
    prompts = dict.fromkeys(summary["prompt"])
    weights = list(dict.fromkeys(summary["weights"]))
    by_key = {(r.prompt, r.weights): r for r in summary.itertuples(index=False)}
    first = {w: next(r for r in summary.itertuples(index=False) if r.weights == w) for w in weights}
    texts = {r.prompt: r for r in summary.itertuples(index=False)}
    rows = [{
        "prompt": p, "text": texts[p].text, "n_tokens": texts[p].n_tokens,
        "cells": [_cell(by_key[p, w], attend_pts[w, p], thumb_sizes[by_key[p, w].still], precision, scheme)
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
        legend={key: ramp_color(scheme["low"], t) for key, t in (("low", 0), ("mid", 0.5), ("high", 1))},
    )


def write_gallery(summary_csv, attend_pts: list, page, settings: dict) -> list[Path]:
    """Thumbnails beside each still and `page` (in the summary's folder); returns the thumbnails written.
    attend_pts: each combination's attend.pt, in the order of settings["combinations"] ([weights, prompt])."""
    root = Path(summary_csv).parent
    attend_by_key = {(w, p): pt for (w, p), pt in zip(settings["combinations"], attend_pts, strict=True)}
    summary = read_summary(summary_csv)
    thumb_sizes, written = {}, []
    for still in summary["still"]:
        thumbnail = root / thumbnail_path(still)
        thumb_sizes[still] = write_thumbnail(root / still, thumbnail)
        written.append(thumbnail)
    with atomic_path(page) as tmp:
        Path(tmp).write_text(gallery_html(summary, attend_by_key, thumb_sizes, settings), encoding="utf-8")
    return written
