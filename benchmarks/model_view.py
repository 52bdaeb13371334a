"""The model view of a 32-layer x 32-head model: its size and how long headless chromium takes to open it.

    .venv/bin/python benchmarks/model_view.py [--layers 32] [--heads 32] [--tokens 11] [--repeat 3]

Writes, in a temporary folder, one attend.pt per layer (random causal attention, the stage writer's own
files), reads them with the gallery's read_combination (which writes each head's map PNG and the layer's
attention.js) and writes the page with modelview.model_view_html, as the gallery job does. Prints the page's
size, the size of everything it loads (maps and numbers), and, in Debian's chromium (Playwright), the seconds
to the load event and until the maps of every screen have loaded, scrolled down a screen at a time (they
load lazily). Target (issue 25): at most
2 MB, open in 3 s or less.
"""

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from attnpipe.report.gallery import read_combination
from attnpipe.report.modelview import model_view_html
from attnpipe.store.stagefiles import record, write_stage

# every map image on the screen (the table is wider than the window: those to the right load when scrolled to)
SCREEN_LOADED = """[...document.images].filter(img => { const r = img.getBoundingClientRect();
    return r.top < innerHeight && r.bottom > 0 && r.left < innerWidth && r.right > 0; })
  .every(img => img.complete && img.naturalWidth > 0)"""
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def write_view(root: Path, layers: int, heads: int, tokens: int) -> tuple[Path, set[Path]]:
    labels = [f"{i}:t{i}" for i in range(tokens)]
    rng = np.random.default_rng(0)
    settings = {"precision": 2, "scheme": "default", "models": {"m": {"layers": layers}},
                "weights": {f"m-layer{i}": {"softmax": True, "show_heads": [0], "model": "m", "layer": i}
                            for i in range(layers)}}
    combos = {}
    mask = torch.ones(tokens, tokens).triu(1).bool()
    for layer in range(layers):
        scores = torch.from_numpy(rng.normal(size=(heads, tokens, tokens)))
        folder = root / f"results/m-layer{layer}/p"
        folder.mkdir(parents=True)
        write_stage({"attention": record(torch.softmax(scores.masked_fill(mask, float("-inf")), -1), labels, labels)},
                    {"tensors": folder / "attend.pt", "attention_csv": folder / "attention.csv"})
        combo = read_combination(f"m-layer{layer}", "p", folder / "attend.pt", settings, root / "results/_gallery")
        combo["patterns"] = dict.fromkeys(range(heads), "previous-token")
        combos[f"m-layer{layer}", "p"] = combo
    html = model_view_html("m", "p", "the prompt's text", layers, combos, settings)
    page = root / "results/_gallery/models/m/p.html"
    page.parent.mkdir(parents=True)
    page.write_text(html, encoding="utf-8")
    return page, {page, *(page.parent / src for src in re.findall(r'(?:src|data-script)="([^"]+)"', html))}


def open_times(page: Path, repeat: int) -> list[tuple[float, float]]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                     args=CHROMIUM_FLAGS)
        for _ in range(repeat):
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            tab.goto(page.as_uri(), wait_until="load")
            loaded = time.perf_counter() - start
            # the maps load lazily: scroll down the page a screen at a time, each screen's maps loaded
            height = tab.evaluate("document.body.scrollHeight")
            for top in range(0, height, 1000):
                tab.evaluate(f"window.scrollTo(0, {top})")
                tab.wait_for_function(SCREEN_LOADED, timeout=30_000)
            times.append((loaded, time.perf_counter() - start))
            tab.close()
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("layers", 32), ("heads", 32), ("tokens", 11), ("repeat", 3)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page, loaded = write_view(Path(tmp), args.layers, args.heads, args.tokens)
        total = sum(path.stat().st_size for path in loaded)
        maps = sum(path.stat().st_size for path in loaded if path.suffix == ".png")
        print(f"model view of {args.layers} layers x {args.heads} heads, {args.tokens} tokens: page "
              f"{page.stat().st_size / 1e6:.2f} MB, map images {maps / 1e6:.2f} MB, numbers (attention.js, loaded "
              f"on the first hover) {(total - maps - page.stat().st_size) / 1e6:.2f} MB: {total / 1e6:.2f} MB in "
              f"{len(loaded)} files")
        for load, images in open_times(page, args.repeat):
            print(f"chromium: load event {load:.2f} s; the maps of every screen loaded, scrolled down a screen at a "
                  f"time: {images:.2f} s")


if __name__ == "__main__":
    main()
