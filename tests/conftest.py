"""Shared helpers: real Snakemake runs in a temporary copy of the workflow (and of src/attnpipe, so a
test may edit library code without touching the checkout), and what several test modules check or build
(combinations, check_video, Payload, Watched). Test modules import from here, never from each other."""

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from attnpipe.look.numbers import fmt

REPO = Path(__file__).resolve().parent.parent
WORKFLOW_PARTS = ["Snakefile", "config", "workflow", "profiles", "src"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake", "results", "logs")


def copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=IGNORE)
        else:
            shutil.copy2(src, dest / part)
    return dest


def snakemake(workdir: Path, *args: str, check: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real snakemake CLI in `workdir`, importing attnpipe from the copy's src/."""
    env = {**os.environ, "PYTHONPATH": str(workdir / "src"), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


# A job in `snakemake -n` output; indented inside a group job (the numeric stages' cluster groups).
RULE_LINE = re.compile(r"^\s*(?:local)?rule (\w+):$")


def planned_rules(workdir: Path) -> list[str]:
    """Rule names of the jobs `snakemake -n` would run (with repeats), `all` left out."""
    proc = snakemake(workdir, "-n", "--cores", "2", check=True)
    lines = (proc.stdout + proc.stderr).splitlines()
    return sorted(m.group(1) for line in lines if (m := RULE_LINE.match(line)) and m.group(1) != "all")


def planned_jobs(workdir: Path, *targets: str, env: dict | None = None) -> set[tuple]:
    """The jobs `snakemake -n [targets]` would run, as {(rule, (('prompt', ..), ('weights', ..)))}, without
    `all` and `numeric`."""
    proc = snakemake(workdir, "-n", "--cores", "2", *targets, check=True, env=env)
    jobs, rule = set(), None
    for line in (proc.stdout + proc.stderr).splitlines():
        if m := RULE_LINE.match(line):
            rule = m.group(1)
        elif (m := re.match(r"^\s+wildcards: (.*)$", line)) and rule:
            pairs = tuple(sorted(tuple(kv.split("=", 1)) for kv in m.group(1).split(", ")))
            jobs.add((rule, pairs))
            rule = None
    return jobs


def job(rule: str, **wildcards) -> tuple:
    return (rule, tuple(sorted(wildcards.items())))


def read_config(workdir: Path) -> dict:
    return yaml.safe_load((workdir / "config/config.yaml").read_text())


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def combinations(workdir):
    """The sweep's (weights, prompt) pairs, as the workflow makes them: attnpipe's own Sweep of the copy's config."""
    from attnpipe.config.sweep import load_schema, load_sweep

    schema = load_schema(workdir / "workflow/schemas/config.schema.yaml")
    return load_sweep(read_config(workdir), schema).combinations()


def snapshot(folder: Path) -> dict:
    """path -> (mtime_ns, sha256) for every file under `folder`."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def check_video(folder, preset) -> float:
    """The mp4 decodes at the preset's size and rate and its last frame holds the result (no fade to black);
    the still is 1920x1080 whatever the preset and not blank."""
    import av  # the video's decoder, and the still's size: only where a test checks a video
    from PIL import Image

    from attnpipe.render.labels import STILL_SIZE

    with av.open(str(folder / "attention.mp4")) as container:
        stream = container.streams.video[0]
        frames = [f for f in container.decode(video=0)]
        assert (stream.width, stream.height) == (preset["pixel_width"], preset["pixel_height"])
        assert stream.average_rate == preset["frame_rate"]
        seconds = float(container.duration) / av.time_base
        assert abs(len(frames) - seconds * preset["frame_rate"]) <= 1
        assert len(frames) > 5 * preset["frame_rate"]  # a story, not a flash
    last = np.asarray(frames[-1].to_image().convert("RGB"))
    assert last.std() > 10 and (last.max(axis=2) > 60).mean() > 0.02, f"the last frame is blank: {folder}"
    # held, not passing: the frame a second before the end is the same result
    before = np.asarray(frames[-1 - preset["frame_rate"]].to_image().convert("RGB"), dtype=float)
    assert np.abs(last - before).mean() < 1
    still = np.asarray(Image.open(folder / "attention.png").convert("RGB"))
    assert still.shape == (STILL_SIZE[1], STILL_SIZE[0], 3)
    assert still.std() > 10 and (still.max(axis=2) > 60).mean() > 0.02, f"blank still: {folder}"
    return seconds


class Payload:
    """A pickle whose loading would run a shell command (touch pwned)."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


# Debian's chromium (./run.sh test installs it) with what it needs here: no sandbox as root, no GPU, and
# nothing that phones home. Playwright drives it over a pipe; it never downloads a browser of its own.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                  "--mute-audio"]


def pytest_collection_modifyitems(items):
    """The SLURM sweep first: it mostly waits on the cluster's status checks, and under pytest-xdist
    (./run.sh test: two workers, tests handed out in this order) the other worker's tests fill the waits."""
    items.sort(key=lambda item: item.path.name != "test_slurm.py")


class Watched:
    """What the page did besides drawing: console errors, uncaught exceptions, failed loads, every request."""

    def __init__(self, page):
        self.problems, self.urls = [], []
        page.on("console", lambda m: m.type in ("error", "assert") and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed to load {r.url}: {r.failure}"))
        page.on("request", lambda r: self.urls.append(r.url))

    def assert_quiet(self):
        assert self.problems == []
        assert self.urls and all(url.startswith(("file://", "data:")) for url in self.urls), self.urls


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's browser: the system chromium, not a Playwright download."""
    assert Path(CHROMIUM).is_file(), "Debian's chromium is needed (./run.sh test installs it)"
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


def sweep_default(folder: Path) -> Path:
    workdir = copy_workflow(folder / "wf")
    proc = snakemake(workdir, "--cores", "2", check=True)
    (folder / "sweep-terminal.txt").write_text(proc.stdout + proc.stderr)  # what a user's terminal shows
    return workdir


@pytest.fixture(scope="session")
def built_default(tmp_path_factory) -> Path:
    """The default config, swept once for the whole session. Copy it before changing anything.

    Under pytest-xdist (./run.sh test) every worker is its own session: the first to ask sweeps into the
    run's shared temporary folder under a lock, the others wait for it and read the same folder."""
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: its own temporary folder
        return sweep_default(tmp_path_factory.mktemp("built"))
    shared = tmp_path_factory.getbasetemp().parent  # pytest-N/, above this worker's pytest-N/popen-gwK/
    folder, done = shared / "built", shared / "built.done"
    with open(shared / "built.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a worker whose sweep failed left
            sweep_default(folder)
            done.touch()
    return folder / "wf"


@pytest.fixture
def built_copy(built_default, tmp_path) -> Path:
    """A private copy of the swept default workflow (mtimes and .snakemake metadata kept)."""
    dest = tmp_path / "wf"
    shutil.copytree(built_default, dest, symlinks=True)
    return dest


# ---- what a scene shows, checked against the CSVs (test_render, test_models) ----

def stage_block(folder, embed, source, rows, cols, forward=None):
    """The stage values at rows x cols of what a scene entry names, read from the CSVs (`forward`: a rotary
    model's forward folder, which holds its cos and sin)."""
    def csv(path):
        return pd.read_csv(path, index_col=0).to_numpy()
    name, _, head = source.partition("[")
    rows, cols = np.atleast_1d(rows), np.atleast_1d(cols)
    if name.endswith(".T"):  # Kᵀ: the CSV's rows are the matrix's columns
        return stage_block(folder, embed, name[:-2], cols, rows, forward).T
    if name == "hidden_states":
        values = csv(embed / "hidden_states.csv")
    elif name.startswith(("w_", "b_")):  # by column label: a big weight's CSV holds some columns (weightcsv)
        frame = pd.read_csv(folder.parent / f"{name}.csv", index_col=0)
        return frame.to_numpy()[np.ix_(rows, [frame.columns.get_loc(f"d{j}") for j in cols])]
    elif name.startswith("rope_"):
        values = csv(forward / f"{name}.csv")
    else:
        values = csv(folder / f"{name}.csv")
    if head:  # (heads, T, T) stacked by head in the CSV
        rows = int(head.rstrip("]")) * values.shape[1] + rows
    return values[np.ix_(rows, cols)]


def displayed_value(folder, embed, source, i, j, forward=None):
    """The value a scene entry claims to show: a stage value (source, i, j), or a statistic of a block of one,
    "p99(scores[0])" with row and column ids, recomputed here from the CSV."""
    if m := re.fullmatch(r"p(\d+)\((.+)\)", source):  # of the finite values: masked scores (−∞) are not on a scale
        block = stage_block(folder, embed, m.group(2), list(i), list(j), forward)
        return np.percentile(block[np.isfinite(block)], int(m.group(1)))
    return stage_block(folder, embed, source, i, j, forward)[0, 0]


def built_scenes(workdir, final_only=False, only=None):
    """(weights, prompt, scene) for every combination: the render stage's own Story and settings,
    with construct() run (every mobject built) but nothing drawn. `final_only`: what the still shows
    (scene.still_frame, laid out for 1920 x 1080) without the steps before it; `only`: these (weights,
    prompt) pairs. `scene.written` lists every string set on screen, in order; `scene.drawn` every string
    drawn with its digits' height in the preview's pixels (at a play: final_only draws none)."""
    from manim import tempconfig

    from attnpipe.config.sweep import load_schema, load_sweep
    from attnpipe.render.scene import AttentionStory
    from attnpipe.render.story import read_story

    class BuiltNotRendered(AttentionStory):
        def __init__(self, *args, **kwargs):
            self.written = []
            super().__init__(*args, **kwargs)

        def text(self, text, *args, **kwargs):
            self.written.append(text)
            return super().text(text, *args, **kwargs)

        def play(self, *animations, **kwargs):
            pass

        def wait(self, *args, **kwargs):
            pass

        def construct(self):
            if not final_only:
                return super().construct()
            self.add_title()
            self.step_final()
            still = self.still_frame()
            self.clear()
            self.add(*still)

    with contextlib.chdir(workdir):  # where Snakemake reads the config: a model's relative path holds there
        sweep = load_sweep(read_config(workdir), load_schema(workdir / "workflow/schemas/config.schema.yaml"))
    results = workdir / "results"
    with tempconfig({"disable_caching": True, "verbosity": "WARNING", "media_dir": str(workdir / "media")}):
        for weights, prompt in only or combinations(workdir):
            folder = results / weights / prompt
            embed = folder if (folder / "embed.pt").exists() else results / "embeddings" / prompt  # a model layer's X
            paths = {"embed": embed / "embed.pt", "weights": results / weights / "weights.pt",
                     "project": folder / "project.pt", "attend": folder / "attend.pt"}
            if (folder / "rotate.pt").exists():  # a rotary model's: the rotation and the model's cos and sin
                model = sweep.weights[weights].model.name
                paths.update(rotate=folder / "rotate.pt", forward=results / "models" / model / prompt / "forward.pt")
            scene = BuiltNotRendered(read_story(paths, sweep.render_settings(weights, prompt)))
            scene.construct()
            yield weights, prompt, scene


def check_shown(workdir, weights, prompt, scene, forward=None):
    """Every number the scene showed equals its stage CSV under the display rule (`forward`: a rotary model's
    forward folder, for its cos and sin)."""
    results = workdir / "results"
    folder = results / weights / prompt
    embed = folder if (folder / "hidden_states.csv").exists() else results / "embeddings" / prompt
    for source, i, j, text in scene.shown:
        value = displayed_value(folder, embed, source, i, j, forward)
        assert text == fmt(value), (weights, prompt, source, i, j)
