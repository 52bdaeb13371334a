"""The render stage: videos that decode at the preset's size, stills that are not blank, no LaTeX,
and every number on screen equal to the stage CSVs under the documented display rule."""

import os
import stat

import av
import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow, job, planned_jobs, read_config, snakemake, write_config
from PIL import Image
from test_workflow import combinations

from attnpipe.render.numbers import dot_product, fmt, token_label
from attnpipe.render.video import PRESETS


def test_display_rule():
    assert [fmt(v) for v in (68.0, -10.0, 0.0, -0.0, 0.0915, -0.004, 2.5, 1 / 3, float("-inf"))] == \
        ["68", "−10", "0", "0", "0.09", "0", "2.5", "0.33", "−∞"]
    assert fmt(1 / 3, precision=4) == "0.3333"
    assert dot_product("Q[1,0]", [-2, 1, 0], [2, 4, -2], 0.0, 2) == "Q[1,0] = (−2)×2 + 1×4 + 0×(−2) = 0"
    assert dot_product("s[0,1]", list(range(1, 9)), [1] * 8, 36.0, 2) == \
        "s[0,1] = 1×1 + 2×1 + 3×1 + … + 8×1 = 36  (8 terms)"
    assert [token_label(t) for t in ("4:the", "1: ", "2:a:b")] == ["the", "␣", "a:b"]


def test_every_combination_has_a_video_and_a_still_at_the_preset(built_default):
    for weights, prompt in combinations(built_default):
        check_video(built_default / "results" / weights / prompt, PRESETS["preview"])


def test_publish_preset_renders_full_hd(tmp_path):
    """One 3-token combination at the lecture preset: 1920x1080 at 30 fps, paced slower than preview."""
    workdir = copy_workflow(tmp_path / "wf")
    cfg = read_config(workdir)
    cfg["prompts"], cfg["weights"] = ["012"], {"seed": cfg["weights"]["seed"]}
    cfg["render"] = {"preset": "publish"}
    write_config(workdir, cfg)
    snakemake(workdir, "--cores", "2", check=True)
    seconds = check_video(workdir / "results/seed/012", PRESETS["publish"])
    assert seconds > 15  # preview's story of the same combination is ~13 s: the pauses are 1.5x longer


def check_video(folder, preset) -> float:
    """The mp4 decodes at the preset's size and rate, the still is not blank and is the last frame."""
    with av.open(str(folder / "attention.mp4")) as container:
        stream = container.streams.video[0]
        frames = [f for f in container.decode(video=0)]
        assert (stream.width, stream.height) == (preset["pixel_width"], preset["pixel_height"])
        assert stream.average_rate == preset["frame_rate"]
        seconds = float(container.duration) / av.time_base
        assert abs(len(frames) - seconds * preset["frame_rate"]) <= 1
        assert len(frames) > 5 * preset["frame_rate"]  # a story, not a flash
    still = np.asarray(Image.open(folder / "attention.png").convert("RGB"))
    assert still.shape == (preset["pixel_height"], preset["pixel_width"], 3)
    assert still.std() > 10 and (still.max(axis=2) > 60).mean() > 0.02, f"blank still: {folder}"
    # the still is the video's last frame: the result stays on screen (no fade to black)
    last = np.asarray(frames[-1].to_image().convert("RGB"), dtype=float)
    assert np.abs(last - still).mean() < 8
    return seconds


def displayed_value(folder, embed, source, i, j):
    """The stage value a scene entry claims to show, read from the CSVs."""
    def csv(path):
        return pd.read_csv(path, index_col=0).to_numpy()
    name, _, head = source.partition("[")
    if name == "hidden_states":
        return csv(embed / "hidden_states.csv")[i, j]
    if name.startswith(("w_", "b_")):
        return csv(folder.parent / f"{name}.csv")[i, j]
    if name == "keys.T":
        return csv(folder / "keys.csv")[j, i]
    values = csv(folder / f"{name}.csv")
    if head:  # (heads, T, T) stacked by head in the CSV
        T = values.shape[1]
        return values[int(head.rstrip("]")) * T + i, j]
    return values[i, j]


def built_scenes(workdir):
    """(weights, prompt, scene) for every combination: the render stage's own Story and settings,
    with construct() run (every mobject built) but nothing drawn."""
    from manim import tempconfig

    from attnpipe.config import load_schema, load_sweep
    from attnpipe.render.scene import AttentionStory
    from attnpipe.render.story import read_story

    class BuiltNotRendered(AttentionStory):
        def play(self, *animations, **kwargs):
            pass

        def wait(self, *args, **kwargs):
            pass

    sweep = load_sweep(read_config(workdir), load_schema(workdir / "workflow/schemas/config.schema.yaml"))
    results = workdir / "results"
    with tempconfig({"disable_caching": True, "verbosity": "WARNING", "media_dir": str(workdir / "media")}):
        for weights, prompt in combinations(workdir):
            folder = results / weights / prompt
            paths = {"embed": results / "embeddings" / prompt / "embed.pt", "weights": results / weights / "weights.pt",
                     "project": folder / "project.pt", "attend": folder / "attend.pt"}
            scene = BuiltNotRendered(read_story(paths, sweep.render_settings(weights, prompt)))
            scene.construct()
            yield weights, prompt, scene


def check_shown(workdir, weights, prompt, scene):
    results = workdir / "results"
    for source, i, j, text in scene.shown:
        value = displayed_value(results / weights / prompt, results / "embeddings" / prompt, source, i, j)
        assert text == fmt(value), (weights, prompt, source, i, j)


def test_every_number_on_screen_matches_the_csvs(built_default):
    checked = 0
    for weights, prompt, scene in built_scenes(built_default):
        assert len(scene.shown) > 20
        check_shown(built_default, weights, prompt, scene)
        checked += len(scene.shown)
        # the vocab table and both written-out dot products are among what is checked
        assert {"hidden_states", "w_query", "queries", "keys"} <= {src for src, *_ in scene.shown}
    assert checked > 1000


def test_long_prompts_and_chosen_heads(tmp_path):
    """Heatmaps above 12 tokens carry a scale labelled with real stage values; `render.heads` limits
    the heads walked through; every number shown still matches the CSVs."""
    workdir = copy_workflow(tmp_path / "wf")
    cfg = read_config(workdir)
    given = {"id": "given", "tokens": ["a", "b"], "hidden_states": [[1, 2, 3], [4, 5, 6.5]]}
    cfg["prompts"] = ["0123456789012345", given]
    cfg["weights"] = {"two-heads": {**cfg["weights"]["two-heads"], "render": {"heads": [1]}},
                      "seed-causal": cfg["weights"]["seed-causal"],
                      "wide": {"shared": {"random": {"seed": 5, "shape": [3, 16]}}}}  # few tokens, Q a heatmap
    write_config(workdir, cfg)
    snakemake(workdir, "numeric", "--cores", "2", check=True)
    for weights, prompt, scene in built_scenes(workdir):
        check_shown(workdir, weights, prompt, scene)
        sources = {src for src, *_ in scene.shown}
        if weights == "two-heads":
            assert "scores[1]" in sources and not any(src.endswith("[0]") for src in sources)
        if prompt == "given":  # its own hidden states: no vocab table, X as given
            x_shown = [text for src, i, j, text in scene.shown if src == "hidden_states"]
            assert x_shown[:6] == ["1", "2", "3", "4", "5", "6.5"]
        elif weights == "seed-causal":  # X, Q and the 16x16 scores are heatmaps: scale ends are the data's extremes
            x = pd.read_csv(workdir / "results/embeddings" / prompt / "hidden_states.csv", index_col=0).to_numpy()
            x_shown = [text for src, i, j, text in scene.shown if src == "hidden_states"]
            assert fmt(x.max()) in x_shown and fmt(x.min()) in x_shown
            assert "scaled_scores[0]" in sources


def test_chosen_heads_rerender_only_that_setting(built_copy):
    cfg = read_config(built_copy)
    cfg["weights"]["two-heads"]["render"] = {"heads": [1]}
    write_config(built_copy, cfg)
    expected = {job("render", weights="two-heads", prompt=p) for w, p in combinations(built_copy) if w == "two-heads"}
    assert planned_jobs(built_copy) == expected


def test_render_needs_no_latex(built_copy):
    """A `latex` that records being called sits first on PATH; re-rendering must never call it."""
    fake = built_copy / "fakebin"
    fake.mkdir()
    for tool in ("latex", "dvisvgm", "xelatex"):
        path = fake / tool
        path.write_text(f"#!/bin/sh\ntouch {built_copy}/latex-was-called\nexit 1\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    (built_copy / "results/seed/012/attention.mp4").unlink()
    env_path = f"{fake}:{os.environ['PATH']}"
    proc = snakemake(built_copy, "--cores", "2", env={"PATH": env_path}, check=True)
    assert "render" in proc.stdout + proc.stderr
    assert (built_copy / "results/seed/012/attention.mp4").stat().st_size > 10_000
    assert not (built_copy / "latex-was-called").exists()
    log = (built_copy / "logs/render/seed/012.log").read_text()
    assert "rendered seed/012" in log


@pytest.mark.parametrize("option, value", [("preset", "publish"), ("scheme", "grey"), ("precision", 3)])
def test_render_options_rerender_and_recompute_nothing(built_copy, option, value):
    cfg = read_config(built_copy)
    cfg.setdefault("render", {})[option] = value
    write_config(built_copy, cfg)
    expected = {job("render", weights=w, prompt=p) for w, p in combinations(built_copy)}
    assert planned_jobs(built_copy) == expected


def test_a_failing_render_fails_alone(built_copy):
    broken = built_copy / "results/seed/012"
    (broken / "attend.pt").write_bytes(b"not a torch file")  # newer than the video: render reruns and fails
    (built_copy / "results/seed/2024/attention.mp4").unlink()  # a healthy render to run beside it
    proc = snakemake(built_copy, "--cores", "2", "--keep-going")
    assert proc.returncode != 0
    assert "Error in rule render" in proc.stdout + proc.stderr
    with av.open(str(built_copy / "results/seed/2024/attention.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) > 10
    # the failed job's outputs are gone, not half-written; no temporary files are left behind
    assert not (broken / "attention.mp4").exists() and not (broken / "attention.png").exists()
    assert not [p for p in broken.iterdir() if p.name.startswith(".")]
