"""The glyph cache (attnpipe.render.glyphs): Manim's Text's outlines and, to the antialiasing of touching
glyphs, its pixels, cold or warm; safe under parallel writers, keyed by what changes outlines; and text in
any script, right-to-left included."""

import json
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from conftest import check_video, copy_workflow, read_config, snakemake, write_config

from attnpipe.render.video import PRESETS

LTR = ["0.25", "−10", "Q[1,0] = (−2)×2 + 1×4 = 0", "“012”  ·  weights: seed", "rows: queries · columns: keys"]

# Renders one frame of `strings` stacked, set by Text or by the glyph cache in a fresh process (so a warm
# cache is read from disk, not from this process's memory); prints the frame and the cache's counters.
FRAME = """
import json, sys
import numpy as np
from manim import DOWN, Scene, Text, VGroup, tempconfig
from attnpipe.render import glyphs
how, strings, media, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
def make(s):
    return Text(s, font_size=20, color="#fde725") if how == "Text" else glyphs.text(s, 20, "#fde725")

with tempconfig({"media_dir": media, "verbosity": "WARNING", "pixel_width": 640, "pixel_height": 360}):
    class Frame(Scene):
        def construct(self):
            self.add(VGroup(*[make(s) for s in strings]).arrange(DOWN))
    scene = Frame()
    scene.render()
    np.save(out, scene.renderer.get_frame())
    cache = glyphs._DEFAULT
    print(json.dumps([cache.built, cache.read, cache.composed] if cache else None))
"""


def frame(how, strings, tmp_path, cache_dir):
    out = tmp_path / "frame.npy"
    proc = subprocess.run([sys.executable, "-c", FRAME, how, json.dumps(strings), str(tmp_path / "media"), str(out)],
                          check=False, capture_output=True, text=True,
                          env={**os.environ, "ATTNPIPE_CACHE_DIR": str(cache_dir)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.load(out), json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_warm_cache_gives_texts_outlines_and_pixels(tmp_path):
    from manim import Text, tempconfig

    from attnpipe.render.glyphs import GlyphCache, Numerals

    cache = tmp_path / "cache"
    reference, _ = frame("Text", LTR, tmp_path, cache)
    # numbers ("0.25", "−10") are laid out from the size's numerals: its probe and checks are set once
    words, numbers, numerals = len(LTR) - 2, 2, len(Numerals.PIECES) + len(Numerals.CHECKS)
    cold, counts = frame("glyphs", LTR, tmp_path, cache)
    assert counts == [words + numerals, 0, numbers]
    warm, counts = frame("glyphs", LTR, tmp_path, cache)
    assert counts == [0, words + numerals, numbers]  # every string read back from disk, none set again
    assert reference.std() > 1  # text was drawn
    assert np.array_equal(warm, cold)
    # A string is one path of all its glyphs (Text: one VMobject per glyph): the same outlines, point for
    # point (numbers, laid out at the next size of Numerals.LADDER and scaled, to 0.0015 units: a fifth of a
    # pixel at 1920 wide); in pixels, only where two glyphs' antialiased edges meet, by a few levels.
    with tempconfig({"media_dir": str(tmp_path / "media")}):
        for string in LTR:
            expected = np.concatenate([g.points for g in Text(string, font_size=20).submobjects])
            tolerance = 1.5e-3 if set(string) <= set(Numerals.PROBE) else 1e-6
            assert np.allclose(GlyphCache(tmp_path / "here").text(string, 20).points, expected, rtol=0, atol=tolerance)
    differs = np.abs(warm.astype(int) - reference.astype(int)).max(axis=2)
    # edges only: a few levels, on under 1 % of the frame (the numbers' sub-pixel shift included)
    assert differs.max() <= 32 and (differs > 0).mean() < 0.01, (differs.max(), (differs > 0).sum())


def test_numbers_are_laid_out_as_pango_sets_them(tmp_path, monkeypatch):
    """A number's outlines laid out from its numerals (at the next size up Numerals.LADDER, scaled) equal the
    number set whole at its own size to 0.0015 units, at every size a scene uses; where the layout is not
    exact (checked per rung of the ladder), every number is set whole instead."""
    from attnpipe.look.numbers import fmt
    from attnpipe.render import glyphs

    numbers = [fmt(v) for v in np.random.default_rng(0).normal(scale=30, size=12)] + ["0", "−0.5", "1" * 25]
    cache = glyphs.GlyphCache(tmp_path / "cache")
    for size in (12, 13.5, 20, 26):
        for number in numbers:
            assert glyphs._same(cache.outlines(number, size), glyphs.set_type(number, size), 1.5e-3), (number, size)
    # four rungs (12.5, 15.62, 24.41, 30.52): each sets the probe's pieces and the checks once
    assert cache.composed == 4 * len(numbers)
    assert cache.built == 4 * (len(glyphs.Numerals.PIECES) + len(glyphs.Numerals.CHECKS))
    assert sorted(cache.numerals) == [12.5, 15.62, 24.41, 30.52]
    monkeypatch.setattr(glyphs, "_same", lambda a, b: False)  # as if this font kerned numerals in context
    inexact = glyphs.GlyphCache(tmp_path / "other")
    assert len(inexact.outlines("−0.5", 20)) == 4 and inexact.numerals == {24.41: None}
    # the probe's pieces, the first check (it fails), the number
    assert (inexact.composed, inexact.built) == (0, len(glyphs.Numerals.PIECES) + 2)


def _fill(folder_and_strings):
    from attnpipe.render.glyphs import GlyphCache

    folder, strings = folder_and_strings
    cache = GlyphCache(folder)
    return [cache.text(s, 20).points.tolist() for s in strings]


def test_parallel_writers_leave_whole_entries(tmp_path):
    """Four processes set the same strings into one cache folder at once: every entry reads back equal
    to a fresh setting, and no temporary file is left."""
    from attnpipe.render.glyphs import GlyphCache

    strings = [f"{i}.{i}5 · ℓ" for i in range(12)]
    with ProcessPoolExecutor(4) as pool:
        results = list(pool.map(_fill, [(tmp_path, strings)] * 4))
    assert all(r == results[0] for r in results)
    assert sorted(p.suffix for p in tmp_path.rglob("*") if p.is_file()) == [".npz"] * len(strings)
    again = GlyphCache(tmp_path)
    assert [again.text(s, 20).points.tolist() for s in strings] == results[0]
    assert (again.built, again.read) == (0, len(strings))


def test_a_changed_key_misses(tmp_path, monkeypatch):
    from attnpipe.render import glyphs

    cache = glyphs.GlyphCache(tmp_path)
    cache.text("keys", 20)  # a word: numbers are laid out from numerals, not stored whole
    hit = glyphs.GlyphCache(tmp_path)
    hit.text("keys", 20.004)  # the same size to 2 decimals: a hit
    assert (hit.built, hit.read) == (0, 1)
    other = glyphs.GlyphCache(tmp_path)
    other.text("keys", 21), other.text("key", 20)
    assert other.built == 2
    # the folder's fingerprint follows the format (and Manim, Pango, Cairo, the fonts): a new one is empty
    before = glyphs.fingerprint()
    glyphs.fingerprint.cache_clear()
    monkeypatch.setattr(glyphs, "FORMAT", glyphs.FORMAT + 1)
    assert glyphs.fingerprint() != before
    glyphs.fingerprint.cache_clear()


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNPIPE_CACHE_DIR", str(tmp_path / "cache"))


def test_right_to_left_text_has_every_glyph_in_order(private_cache):
    from attnpipe.render.glyphs import GlyphCache

    cache = GlyphCache(None)
    word = "שלום"
    glyphs = cache.outlines(word, 40)
    assert len(glyphs) == 4  # Manim's Text gives none
    assert np.array_equal(cache.text(word, 40).points, np.concatenate(glyphs))  # what is drawn

    def centre(points):
        return (points.min(axis=0) + points.max(axis=0)) / 2

    # read right to left: the glyph furthest right is the first letter, and so on
    by_x = sorted(glyphs, key=lambda g: -centre(g)[0])
    for glyph, letter in zip(by_x, word):
        alone = cache.outlines(letter, 40)[0]
        assert np.allclose(glyph - centre(glyph), alone - centre(alone), atol=1e-6)
    assert len(cache.outlines("سلام", 40)) == 3  # س, the lam-alef ligature لا, م
    # emoji beside right-to-left text: no character dropped (Text keeps only "abc")
    assert len(cache.outlines("😀 שלום abc", 40)) == 8


def test_a_hebrew_prompt_with_an_emoji_title_renders(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    cfg = read_config(workdir)
    cfg["prompts"] = [{"id": "shalom", "text": "שלום 😀 0", "tokens": ["שלום", "0"]}]
    cfg["weights"] = {"seed": cfg["weights"]["seed"]}
    write_config(workdir, cfg)
    snakemake(workdir, "--cores", "2", "results/seed/shalom/attention.mp4", check=True,
              env={"ATTNPIPE_CACHE_DIR": str(tmp_path / "cache")})
    check_video(workdir / "results/seed/shalom", PRESETS["preview"])
