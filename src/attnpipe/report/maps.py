"""The attention maps of the pages (index.html and the model views), coloured as the still is.

A map's colour scale is the still's (render.result): ColourScale.of over the weights of the heads the video
shows, probabilities from 0 to the largest (or their 99th percentile, where a few weights would flatten the
rest: the legend says so), weights without softmax diverging around 0. Small maps are tables of numbers;
the others are images, one PNG per head with one pixel per weight, whose numbers the page shows on hover from
attention.js beside them (the weights as float32, loaded on the first hover: a page opened from the file
system may load a script but not read an image's pixels; templates/maps.js).
"""

import base64
import json
from pathlib import Path

import numpy as np
from PIL import Image

from ..look.colours import ColourScale, rgb_hex, text_colour_on, weights_kind, weights_meaning
from ..look.numbers import fmt, token_label
from ..store.layout import link
from .templates import macro

MAP_SCRIPT = "attention.js"


def weights_scale(shown: np.ndarray, softmax: bool) -> ColourScale:
    """The still's colour scale (render.result): over the weights of the heads shown, probabilities from 0
    (clipped at the 99th percentile where it says so), weights without softmax diverging around 0."""
    return ColourScale.of(shown, weights_kind(softmax))


def scale_legend(scale: ColourScale, scheme: dict, precision: int) -> dict:
    """The colour bar as the page draws it: a CSS gradient, its end values, and what they are."""
    stops = ", ".join(rgb_hex(rgb) for rgb in scale.rgb(scale.ramp_values(9)[::-1], scheme))
    return {"gradient": f"linear-gradient(to right, {stops})", "lo": fmt(scale.lo, precision),
            "hi": fmt(scale.hi, precision), "meaning": weights_meaning(scale), "clipped": scale.clipped}


def heatmap_tables(attention: dict, heads: list[int], scale: ColourScale, precision: int, scheme: dict) -> list[dict]:
    """The weights of `heads` of a (H, T, T) attention record as one table per head for heatmap.html.j2:
    labels, and per cell its colour (on `scale`, the still's), text colour, number and a title naming query
    and key. For maps of at most MAX_TEXT_CELLS tokens."""
    weights = attention["tensor"]
    rows, cols = attention["row_labels"], attention["column_labels"]
    tables = []
    for h in heads:
        rgb = scale.rgb(weights[h], scheme)
        body = []
        for i, label in enumerate(rows):
            cells = []
            for j, col in enumerate(cols):
                text = fmt(float(weights[h, i, j]), precision)
                cells.append({"background": rgb_hex(rgb[i, j]), "color": text_colour_on(rgb[i, j]),
                              "title": f"{label} → {col}: {text}", "text": text})
            body.append({"title": label, "label": token_label(label), "cells": cells})
        tables.append({
            "caption": f"head {h}" if weights.shape[0] > 1 else None,
            "columns": [{"title": c, "label": token_label(c)} for c in cols],
            "rows": body,
        })
    return tables


def heatmap_html(attention: dict, heads: list[int], scale: ColourScale, precision: int, scheme: dict) -> str:
    """heatmap_tables as HTML: one coloured <table> per head, numbers in the cells."""
    return str(macro("heatmap.html.j2", "heatmaps")(heatmap_tables(attention, heads, scale, precision, scheme)))


def write_maps(folder: Path, key: str, attention: dict, heads: list[int], scale: ColourScale, scheme: dict) -> None:
    """head<h>.png per head in `heads` (one pixel per weight, coloured on `scale`) and attention.js, which
    hands every head's weights and labels to the page's attnpipeMap(key, ...) (templates/maps.js)."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = attention["tensor"]
    rgb = np.clip(np.rint(scale.rgb(weights[heads], scheme)), 0, 255).astype(np.uint8)
    for h, image in zip(heads, rgb, strict=True):
        Image.fromarray(image, "RGB").save(folder / f"head{h}.png", format="PNG", compress_level=1)
    payload = {"rows": attention["row_labels"], "cols": attention["column_labels"], "heads": weights.shape[0],
               "values": base64.b64encode(weights.astype("<f4").tobytes()).decode("ascii")}
    # JSON is JavaScript; ensure_ascii leaves no U+2028 or other character a script could trip on
    script = f"attnpipeMap({json.dumps(key)}, {json.dumps(payload, ensure_ascii=True)});\n"
    (folder / MAP_SCRIPT).write_text(script, encoding="ascii")


def map_images(combo: dict, heads: list[int], size: int, page_dir: str) -> list[dict]:
    """The <img> of each head's map for a page in `page_dir`, `size` px square."""
    folder = combo["assets"]
    return [{"src": link(f"{folder}/head{h}.png", page_dir), "script": link(f"{folder}/{MAP_SCRIPT}", page_dir),
             "key": combo["key"], "head": h, "size": size, "pixelated": size >= combo["tokens"],
             "caption": f"head {h}", "pattern": combo["patterns"].get(h, ""),
             "alt": f"attention weights of head {h}, {combo['key']}"} for h in heads]
