"""results/index.html: the whole sweep on one static page that opens from the file system, and what it links
in results/_gallery/: a thumbnail of each still, the maps' images and numbers, and a model view per (model,
prompt) (attnpipe.report.modelview).

The grid: prompts (rows) x weight settings (columns). Each cell: a thumbnail of the video's last frame
(click: the video plays in a dialog), its size and score range, the attention weights of the heads the video
shows (attnpipe.report.maps: tables of numbers up to MAX_TEXT_CELLS tokens and MAX_TABLE_HEADS heads, images with
their numbers on hover beyond; coloured as the still), and links to the video, still, CSVs (and, for a
model's layer, its model view).

Everything is inline (CSS, JavaScript) or a relative link inside results/: no network, no server.
results/_gallery/ is written whole: built in a temporary folder beside it and renamed into place. Stage
files are read with attnpipe.store.torchfile (no torch).
"""

import re
import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
from PIL import Image

from ..look.colours import MAX_TEXT_CELLS, SCHEMES
from ..look.numbers import fmt
from ..store.atomicfile import atomic_path
from ..store.layout import COMBINATION_CSVS, GALLERY_ASSETS, RESULTS, THUMBNAIL, link, map_assets, model_view
from ..store.torchfile import load as read_stage
from .heads_table import read_heads
from .maps import heatmap_tables, map_images, scale_legend, weights_scale, write_maps
from .modelview import model_view_html, model_views
from .summary import read_summary
from .templates import render

THUMBNAIL_WIDTH = 320
MAX_TABLE_HEADS = 2  # tables of numbers side by side that fit a cell (the two-heads toy); more heads: images
MAP_COLUMNS = 4  # image maps per row in a cell
MAP_GAP = 4  # px between them
TEXT_CUT = 60  # characters of a prompt's text in a filter's label (the whole text on hover)
# Threads for the thumbnails and maps (the rule declares threads: 2): Pillow decodes, resizes and encodes
# without holding the GIL, and decoding the 1920 x 1080 stills is most of the job.
WORKERS = 2


def write_thumbnail(still, thumbnail: Path) -> tuple[int, int]:
    """A THUMBNAIL_WIDTH-wide PNG of the still (never wider than the still); returns its size."""
    thumbnail.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(still) as image:
        image = image if image.mode == "RGB" else image.convert("RGB")
        if image.width >= 2 * THUMBNAIL_WIDTH:  # a box filter down to about the size first: 3x faster
            image = image.reduce(image.width // THUMBNAIL_WIDTH)
        image.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * image.height // image.width or 1))
        image.save(thumbnail, format="PNG")  # optimize=True is 8x slower for ~20 % smaller files
        return image.size


def read_combination(weights: str, prompt: str, attend_pt, settings: dict, folder: Path) -> dict:
    """What the pages show of one combination: its attention record's size, its colour scale and legend,
    its tables (small maps) or the images written to `folder` (the assets' temporary twin of map_assets)."""
    setting = settings["weights"][weights]
    precision, scheme = settings["precision"], SCHEMES[settings["scheme"]]
    attention = read_stage(attend_pt)["attention"]
    heads, tokens = attention["tensor"].shape[0], attention["tensor"].shape[1]
    shown = list(setting["show_heads"])
    scale = weights_scale(attention["tensor"][shown], setting["softmax"])
    tables = tokens <= MAX_TEXT_CELLS and len(shown) <= MAX_TABLE_HEADS
    combo = {"weights": weights, "prompt": prompt, "key": f"{weights}/{prompt}", "assets": map_assets(weights, prompt),
             "tokens": tokens, "heads": heads, "shown": shown, "legend": scale_legend(scale, scheme, precision),
             "patterns": {},
             "tables": heatmap_tables(attention, shown, scale, precision, scheme) if tables else None}
    if not tables or "model" in setting:  # a model view shows every head of a model's layer as an image
        write_maps(folder / weights / prompt, combo["key"], attention,
                   list(range(heads)) if "model" in setting else shown, scale, scheme)
    return combo


def _options(row) -> str:
    heads = f"{row.heads} head{'s' if row.heads != '1' else ''}"
    return f"scale {row.scale} · causal {row.causal.lower()} · softmax {row.softmax.lower()} · {heads}"


def _cell(row, combo: dict, thumb_size: tuple[int, int], settings: dict) -> dict:
    precision = settings["precision"]
    shown = combo["shown"]
    heads = f"{combo['heads']} heads" if combo["heads"] > 1 else "1 head"
    if len(shown) < combo["heads"]:
        heads += f" (the video's: {', '.join(map(str, shown))})"
    stats = [f"{combo['tokens']} tokens · {heads}",
             f"scores {fmt(float(row.min_score), precision)} … {fmt(float(row.max_score), precision)}"]
    if row.mean_entropy:
        stats.append(f"mean entropy {fmt(float(row.mean_entropy), precision)} nats")
    links = [{"href": row.video, "label": "video"}, {"href": row.still, "label": "still"}] + [
        {"href": getattr(row, name + "_csv"), "label": f"{name}.csv"} for name in COMBINATION_CSVS]
    model = settings["weights"][row.weights].get("model")
    if model:
        links.insert(0, {"href": link(model_view(model, row.prompt), RESULTS), "label": "model view"})
    columns = min(len(shown), MAP_COLUMNS)
    size = (THUMBNAIL_WIDTH - (columns - 1) * MAP_GAP) // columns
    return {
        "empty": False, "prompt": row.prompt, "weights": row.weights, "video": row.video,
        "title": f"{row.weights} / {row.prompt}: “{row.text}”",
        "thumbnail": link(f"{map_assets(row.weights, row.prompt)}/{THUMBNAIL}", RESULTS), "width": thumb_size[0],
        "height": thumb_size[1],
        "stats": stats, "legend": combo["legend"], "tables": combo["tables"],
        "maps": None if combo["tables"] else map_images(combo, shown, size, RESULTS), "links": links,
    }


def cut(text: str, length: int = TEXT_CUT) -> str:
    return text if len(text) <= length else text[:length - 1].rstrip() + "…"


def gallery_html(summary: pd.DataFrame, combos: dict, thumb_sizes: dict, settings: dict) -> str:
    """The page for `summary` (rows as read from summary.csv, all strings); combos: (weights, prompt) ->
    read_combination's dict; thumb_sizes: still -> (w, h)."""
    prompts = dict.fromkeys(summary["prompt"])
    weights = list(dict.fromkeys(summary["weights"]))
    by_key = {(r.prompt, r.weights): r for r in summary.itertuples(index=False)}
    first = {w: next(r for r in summary.itertuples(index=False) if r.weights == w) for w in weights}
    texts = {r.prompt: r.text for r in summary.itertuples(index=False)}
    rows = [{
        "prompt": p, "text": texts[p],
        "cells": [_cell(by_key[p, w], combos[w, p], thumb_sizes[by_key[p, w].still], settings)
                  if (p, w) in by_key else {"empty": True, "prompt": p, "weights": w} for w in weights],
    } for p in prompts]
    return render(
        "index.html.j2",
        title=f"attnpipe: {len(prompts)} prompts × {len(weights)} weight settings",
        combinations=len(summary),
        prompt_boxes=[{"value": p, "label": f"{p} (“{cut(texts[p])}”)" if texts[p] != p else p, "title": texts[p]}
                      for p in prompts],
        weight_boxes=[{"value": w, "label": w, "title": w} for w in weights],
        weights=[{"name": w, "options": _options(first[w])} for w in weights],
        rows=rows,
    )


def remove_stale_folders(target: Path) -> None:
    """The temporary folders a killed job left beside `target` (kill -9 runs no cleanup)."""
    stale = re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{8}}\.(tmp|old)")
    if target.parent.is_dir():
        for entry in target.parent.iterdir():
            if stale.fullmatch(entry.name):
                shutil.rmtree(entry, ignore_errors=True)


def replace_folder(built: Path, target: Path) -> None:
    """Put `built` where `target` is, the old one (if any) removed only once the new one is in place."""
    old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
    if target.exists():
        target.rename(old)
    built.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def write_gallery(summary_csv, heads_csv, attend_pts: list, page, assets, settings: dict) -> int:
    """The assets folder (a thumbnail of each still, maps, model views) and `page` (in the summary's folder,
    which is results/); returns the number of combinations. attend_pts: each combination's attend.pt, in the
    order of settings["combinations"] ([weights, prompt]). Paths relative to the workflow folder.

    The thumbnails are in the assets folder, not beside the stills: Snakemake records, for each output, the
    checksums of every input, and 110 thumbnails x 330 inputs took it 4 s after the job."""
    root = Path(summary_csv).parent
    summary = read_summary(summary_csv)
    patterns = {(r.weights, r.prompt, r.head): r.pattern for r in read_heads(heads_csv).itertuples(index=False)}
    assets = Path(assets)
    remove_stale_folders(assets)
    building = assets.with_name(f".{assets.name}.{secrets.token_hex(4)}.tmp")
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            thumbnails = [building / w / p / THUMBNAIL for w, p in zip(summary["weights"], summary["prompt"])]
            sizes = pool.map(write_thumbnail, [root / still for still in summary["still"]], thumbnails)
            pairs = list(zip(settings["combinations"], attend_pts, strict=True))
            read = pool.map(lambda pair: read_combination(*pair[0], pair[1], settings, building), pairs)
            combos = {(combo["weights"], combo["prompt"]): combo for combo in read}
            thumb_sizes = dict(zip(summary["still"], sizes, strict=True))
        for (weights, prompt), combo in combos.items():
            combo["patterns"] = {h: patterns.get((weights, prompt, h), "") for h in range(combo["heads"])}
        texts = dict(zip(summary["prompt"], summary["text"]))
        for model, prompt in model_views(summary, settings):
            view = building / Path(model_view(model, prompt)).relative_to(GALLERY_ASSETS)
            view.parent.mkdir(parents=True, exist_ok=True)
            view.write_text(model_view_html(model, prompt, texts[prompt], settings["models"][model]["layers"],
                                            combos, settings), encoding="utf-8")
        building.mkdir(parents=True, exist_ok=True)  # an empty sweep has nothing in it
        html = gallery_html(summary, combos, thumb_sizes, settings)
        replace_folder(building, assets)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    with atomic_path(page) as tmp:
        Path(tmp).write_text(html, encoding="utf-8")
    return len(combos)
