"""The model view of a model for one prompt (after BertViz's): every layer of the model a row, every head a
column, each a small map (attnpipe.report.maps) with its pattern from heads.csv; a layer the sweep does not read is
shown as missing. Written by the gallery job into results/_gallery/models/<model>/<prompt>.html."""

from pathlib import Path

import pandas as pd

from ..store.layout import GALLERY, STILL, VIDEO, combination_file, csv_file, link, model_dir, model_view
from .maps import map_images
from .templates import render

MODEL_VIEW_MAP = 72  # px per head


def model_view_html(model: str, prompt: str, text: str, layers: int, combos: dict, settings: dict) -> str:
    """The model view of `model` for `prompt`: a row per layer (a row per setting that reads it; a layer
    no setting reads is shown missing), a column per head, each head's map linking to that layer's video."""
    page_dir = str(Path(model_view(model, prompt)).parent)
    rows = []
    for layer in range(layers):
        settings_here = [w for w, s in settings["weights"].items()
                         if s.get("model") == model and s["layer"] == layer and (w, prompt) in combos]
        if not settings_here:
            rows.append({"layer": layer, "missing": True})
        for weights in settings_here:
            combo = combos[weights, prompt]
            rows.append({
                "layer": layer, "missing": False, "weights": weights, "tokens": combo["tokens"],
                "video": link(combination_file(weights, prompt, VIDEO), page_dir),
                "still": link(combination_file(weights, prompt, STILL), page_dir), "legend": combo["legend"],
                "maps": map_images(combo, list(range(combo["heads"])), MODEL_VIEW_MAP, page_dir),
            })
    heads = max((c["heads"] for (w, p), c in combos.items()
                 if p == prompt and settings["weights"][w].get("model") == model), default=0)
    return render("model_view.html.j2", title=f"{model} · {prompt}: every layer × head", model=model,
                  prompt=prompt, text=text, heads=list(range(heads)), rows=rows,
                  index=link(GALLERY, page_dir), tokens=link(csv_file(model_dir(model, prompt), "tokens"), page_dir))


def model_views(summary: pd.DataFrame, settings: dict) -> list[tuple[str, str]]:
    """(model, prompt) of every model view: each prompt a model's settings read, in summary order."""
    pairs = [(settings["weights"][w].get("model"), p) for w, p in zip(summary["weights"], summary["prompt"])]
    return list(dict.fromkeys((m, p) for m, p in pairs if m))
