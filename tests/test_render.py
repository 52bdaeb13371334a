"""The render stage: videos that decode at the preset's size, stills at their own size (1920x1080) that
are not blank and read (text sizes, labels that never overlap), no LaTeX, and every number on screen
equal to the stage CSVs under the documented display rule."""

import os
import re
import stat

import av
import numpy as np
import pytest
from conftest import (
    built_scenes,
    check_shown,
    check_video,
    combinations,
    copy_workflow,
    job,
    planned_jobs,
    read_config,
    snakemake,
    write_config,
)
from PIL import Image

from attnpipe.look.numbers import dot_product, fmt, token_label
from attnpipe.render.labels import STILL_SIZE
from attnpipe.render.story import interesting_cell, rotated_pair
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
    snakemake(workdir, "--cores", "2", "results/seed/012/attention.mp4", check=True)  # no summary or page
    seconds = check_video(workdir / "results/seed/012", PRESETS["publish"])
    assert seconds > 15  # preview's story of the same combination is ~13 s: the pauses are 1.5x longer


def test_every_number_on_screen_matches_the_csvs_and_no_two_texts_overlap(built_default):
    """From the scene's own records: the numbers shown, and every text on screen at every play with its box
    (a token chip's is its box's)."""
    checked = 0
    for weights, prompt, scene in built_scenes(built_default):
        assert len(scene.shown) > 20
        check_shown(built_default, weights, prompt, scene)
        assert scene.overlaps == [], (weights, prompt)
        checked += len(scene.shown)
        # the vocab table and both written-out dot products are among what is checked
        assert {"hidden_states", "w_query", "queries", "keys"} <= {src for src, *_ in scene.shown}
    assert checked > 1000


def test_long_prompts_and_chosen_heads(tmp_path):
    """Above what fits, matrices are elided (⋮ ⋯) with the last row kept; `render.heads` limits the heads
    shown; every number shown still matches the CSVs."""
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
        elif weights == "seed-causal":  # 16 x 16 scores: some columns elided, the last query's row in view
            assert "scaled_scores[0]" in sources and "⋯" in scene.drawn
            assert {i for src, i, j, _ in scene.shown if src == "scores[0]"} >= {0, 15}


def test_the_still_says_which_heads_of_how_many_it_shows(tmp_path):
    """`render: {heads: [0, 1]}` of 12: the still said "all 2 heads side by side" while the gallery said
    "12 heads (the video's: 0, 1)"."""
    workdir = copy_workflow(tmp_path / "wf")
    cfg = read_config(workdir)
    cfg["prompts"] = ["31415926"]
    cfg["weights"] = {"two-of-twelve": {**TWELVE_HEADS, "attention": {"heads": 12}, "render": {"heads": [0, 1]}},
                      "twelve": {**TWELVE_HEADS, "attention": {"heads": 12}}}
    write_config(workdir, cfg)
    snakemake(workdir, "numeric", "--cores", "2", check=True)
    captions = {weights: scene.caption_text for weights, _, scene in built_scenes(workdir, final_only=True)}
    assert captions["two-of-twelve"].endswith("the result: who attends to whom, heads 0, 1 of 12 side by side")
    assert captions["twelve"].endswith("the result: who attends to whom, all 12 heads side by side")


# ---- the still reads at its own size ------------------------------------------------------------------

TWELVE_HEADS = {role: {"random": {"seed": n, "shape": [3, 24]}} for n, role in enumerate(["query", "key", "value"])}
OUTLIER_X = [[(i % 5) - 2, (i % 3) - 1, (i % 4) * 0.5] for i in range(40)]  # 120 values: p99 leaves one out
OUTLIER_X[3][1] = 60.0  # one value far outside the rest: X's grey scale must not be flattened by it


# under pytest-xdist the tests of legibility_cases run on one worker: its stage files are made once
ON_ONE_WORKER = pytest.mark.xdist_group("legibility")


@pytest.fixture(scope="module")
def legibility_cases(tmp_path_factory):
    """Stage files for a 12-head setting (d_head 2) and a GPT-style one, on an 8-token prompt, a 64-token
    one and a 40-token prompt whose hidden states hold one outlier: numeric stages only."""
    workdir = copy_workflow(tmp_path_factory.mktemp("legible") / "wf")
    cfg = read_config(workdir)
    t64 = "3141592653589793238462643383279502884197169399375105820974944592"
    cfg["prompts"] = ["31415926", {"id": "t64", "text": t64},
                      {"id": "outlier", "tokens": [str(i % 10) for i in range(40)], "hidden_states": OUTLIER_X}]
    cfg["weights"] = {"twelve": {**TWELVE_HEADS, "attention": {"heads": 12}},
                      "seed-causal": cfg["weights"]["seed-causal"]}
    write_config(workdir, cfg)
    snakemake(workdir, "numeric", "--cores", "2", check=True)
    return workdir


def on_screen(scene, kind):
    from manim import config
    return [m for top in scene.mobjects for m in top.get_family() if isinstance(m, kind)], config


def boxes(mobjects) -> np.ndarray:
    return np.array([[*m.get_corner([-1, -1, 0])[:2], *m.get_corner([1, 1, 0])[:2]] for m in mobjects])


def overlapping(a: np.ndarray, b: np.ndarray, same: bool) -> list[tuple[int, int]]:
    """Index pairs of boxes (x0, y0, x1, y1) of `a` and `b` that overlap by more than a hair."""
    eps = 1e-3
    hit = ((a[:, None, 0] < b[None, :, 2] - eps) & (b[None, :, 0] < a[:, None, 2] - eps)
           & (a[:, None, 1] < b[None, :, 3] - eps) & (b[None, :, 1] < a[:, None, 3] - eps))
    if same:
        hit &= ~np.eye(len(a), dtype=bool)
    return list(zip(*np.nonzero(hit)))


def check_legible(scene):
    """Every text of the final frame (the still) at 1920x1080: set at a size whose digits are at least 12 px
    tall (numbers: measured on the number itself), inside the frame, overlapping no other text and no
    heatmap. A text's size is measured against a fresh Text of the same string and font size, so scaling
    and turning by 90° (turned labels) are both seen."""
    from manim import ImageMobject, Text

    from attnpipe.render.glyphs import GlyphText

    texts, config = on_screen(scene, GlyphText)  # every string on screen is set through the glyph cache
    assert texts, "no text found on the final frame"
    images, _ = on_screen(scene, ImageMobject)
    px_per_unit = STILL_SIZE[1] / config.frame_height
    digit_per_point = Text("0123456789", font_size=100).height / 100
    fresh = {}
    for text in texts:
        key = (text.text, text.font_size)
        if key not in fresh:
            fresh[key] = Text(*key[:1], font_size=key[1])
        ref = fresh[key]
        scale = np.sqrt(text.width * text.height / (ref.width * ref.height))
        digit_px = text.font_size * scale * digit_per_point * px_per_unit
        assert digit_px >= 12, (text.text, digit_px)
        if re.fullmatch(r"−?\d+(\.\d+)?", text.text):
            assert text.height * px_per_unit >= 12, (text.text, text.height * px_per_unit)
    text_boxes = boxes(texts)
    w, h = config.frame_width / 2, config.frame_height / 2
    assert (text_boxes[:, :2] >= [-w, -h]).all() and (text_boxes[:, 2:] <= [w, h]).all()
    clashes = overlapping(text_boxes, text_boxes, same=True)
    assert not clashes, [(texts[i].text, texts[j].text) for i, j in clashes[:5]]
    clashes = overlapping(text_boxes, boxes(images), same=False) if images else []
    assert not clashes, [texts[i].text for i, _ in clashes[:5]]
    return texts


@ON_ONE_WORKER
def test_the_still_reads_with_twelve_heads_and_64_tokens(legibility_cases):
    """The final frame's own mobjects, built without drawing: every head shown, numbers only where they
    fit, labels thinned (and said so) where they would overlap, every number shown matching the CSVs."""
    seen = set()
    for weights, prompt, scene in built_scenes(legibility_cases, final_only=True):
        texts = check_legible(scene)
        check_shown(legibility_cases, weights, prompt, scene)
        strings = [t.text for t in texts]
        if weights == "twelve":
            assert [s for s in strings if s.startswith("head ")] == [f"head {h}" for h in range(12)]
        if prompt == "t64":  # 64 labels cannot all sit 12 px tall beside 64 rows: thinned, and the image says so
            assert any(re.search(r"every \d+(st|nd|rd|th) token labelled", s) for s in strings)
            assert sum(len(s) == 1 and s.isdigit() for s in strings) < 2 * 64
        # the colour bar's top is labelled with the scale's real top: the largest weight shown, or a percentile
        assert any(src.startswith(("attention[", "p99(attention")) for src, *_ in scene.shown)
        seen.add((weights, prompt))
    assert len(seen) == 6


@ON_ONE_WORKER
def test_the_still_png_is_that_frame_at_1920x1080(legibility_cases, tmp_path):
    """One real drawing of the still (the render job's own write_still): full HD, and every head's heatmap
    is drawn where the scene put it."""
    from manim import ImageMobject

    from attnpipe.render.video import write_still

    [(_, _, scene)] = built_scenes(legibility_cases, final_only=True, only=[("twelve", "31415926")])
    write_still(scene, tmp_path / "still.png")
    still = np.asarray(Image.open(tmp_path / "still.png").convert("RGB"))
    assert still.shape == (STILL_SIZE[1], STILL_SIZE[0], 3)
    images, config = on_screen(scene, ImageMobject)
    scale = STILL_SIZE[1] / config.frame_height
    assert len(images) == 13  # 12 heads and the colour bar
    for x0, y0, x1, y1 in boxes(images):
        left, right = int((x0 + config.frame_width / 2) * scale) + 2, int((x1 + config.frame_width / 2) * scale) - 2
        top, bottom = int((config.frame_height / 2 - y1) * scale) + 2, int((config.frame_height / 2 - y0) * scale) - 2
        assert (still[top:bottom, left:right].max(axis=2) > 40).mean() > 0.95  # viridis, not the black background
    assert (still.max(axis=2) < 10).mean() > 0.3  # and black between them


@ON_ONE_WORKER
def test_clipped_colour_scales_are_percentiles_of_the_csv(legibility_cases):
    """One outlier in X makes a few scores far larger than the rest: the signed scores' scale is clipped at
    the 1st and 99th percentiles, its bar labelled so, and those labels are checked like every other number
    (recomputed from the CSV)."""
    [(weights, prompt, scene)] = built_scenes(legibility_cases, only=[("seed-causal", "outlier")])
    check_shown(legibility_cases, weights, prompt, scene)
    sources = {src for src, *_ in scene.shown}
    assert {"p1(scores[0])", "p99(scores[0])"} <= sources
    assert "99th percentile" in scene.drawn


def test_the_written_out_cell_teaches():
    """The dot product written out is one whose sum does not show as 0, before one with more terms."""
    a, b = np.array([[1.0, -1.0], [1.0, 0.0]]), np.array([[1.0], [1.0]])
    assert interesting_cell(a, b, a @ b) == (1, 0)  # (0, 0) has two terms, but they cancel
    a[0, 1] = -0.999  # sums to 0.001: "0" at 2 decimals
    assert interesting_cell(a, b, a @ b, precision=2) == (1, 0)
    assert interesting_cell(a, b, a @ b, precision=3) == (0, 0)


def test_the_rotated_pair_written_out_turns():
    """A rotary model's pair written out: the largest |sin| (position 0 never turns), inputs not shown as 0."""
    sin = np.array([[0.0, 0.0, 0.0, 0.0], [0.84, 0.1, 0.84, 0.1], [0.91, 0.2, 0.91, 0.2]])
    q = np.ones((3, 4))
    assert rotated_pair(q, sin) == (2, 0)
    q[2, 2] = 0.001  # the partner of dimension 0 (rotate_half: dimension 2) shows as 0 at position 2
    assert rotated_pair(q, sin) == (1, 0)


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
    proc = snakemake(built_copy, "--cores", "2", "results/seed/012/attention.mp4", env={"PATH": env_path}, check=True)
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
