"""A step's layout is planned before anything is built (render.plan): which rows and columns of each matrix
are written out and how large the row is drawn in the room the frame leaves. Planned with the glyph cache's
own measures of the text, at the video's smallest legible size (labels.VIDEO)."""

import math
import subprocess
import sys

import numpy as np
import pytest

from attnpipe.render.glyphs import measure
from attnpipe.render.labels import VIDEO, digit_size
from attnpipe.render.plan import MAX_SCALE, MatrixSpec, Planner

WIDTH, HEIGHT = 13.6, 5.7  # the stage under a one-line caption, as the scene gives it (units)


@pytest.fixture(scope="module")
def planner():
    return Planner(VIDEO.font(), digit_size(), 2, measure)


def spec(title, n, m, scale=3.0, **kwargs):
    rows, cols = [f"{i}:tok" for i in range(n)], [f"d{j}" for j in range(m)]
    values = np.random.default_rng(n * m).normal(0, scale, (n, m))
    return MatrixSpec(title, values, rows, cols, **kwargs)


def test_matrices_that_fit_whole_are_whole_and_drawn_larger_in_the_frame(planner):
    """X · W_q = Q of a 6-token prompt (d 3): every number, drawn as large as the room allows (up to
    MAX_SCALE), inside the room."""
    specs = [spec("X", 6, 3), spec("W_q", 3, 3), spec("Q", 6, 3)]
    plans, scale = planner.row(specs, 1.0, WIDTH, HEIGHT)
    assert not any(p.elided for p in plans)
    assert 1 < scale <= MAX_SCALE
    width, height = 1.0 + sum(p.width for p in plans), max(p.height for p in plans)
    assert width * scale <= WIDTH + 1e-9 and height * scale <= HEIGHT + 1e-9
    # the room is used: as large as its width, its height or MAX_SCALE allows
    assert math.isclose(scale, min(MAX_SCALE, WIDTH / width, HEIGHT / height))


def test_a_matrix_is_elided_only_where_whole_it_would_not_fit_at_the_smallest_size(planner):
    """Q · Kᵀ = scores of an 11-token prompt with d_head 32: the whole row is wider than the frame at the
    smallest legible size, so columns are elided, every one the step points at (the dot product's terms, its
    key) kept; nothing is drawn smaller than that size (scale >= 1)."""
    specs = [spec("Q", 11, 32, focus_rows=[6], focus_cols=[0, 1, 2, 31]),
             spec("Kᵀ", 32, 11, focus_rows=[0, 1, 2, 31], focus_cols=[4]),
             spec("scores", 11, 11, scale=10.0, kind="signed", focus_rows=[6], focus_cols=[4])]
    whole = [planner.matrix(s, math.inf, HEIGHT) for s in specs]
    assert 1.0 + sum(p.width for p in whole) > WIDTH  # does not fit whole
    plans, scale = planner.row(specs, 1.0, WIDTH, HEIGHT)
    assert any(p.elided for p in plans) and scale >= 1
    assert 1.0 + sum(p.width for p in plans) <= WIDTH + 1e-9
    for s, p in zip(specs, plans):
        assert s.focus_rows[0] in p.rows and set(s.focus_cols) <= set(p.cols)


def test_column_labels_are_cut_to_their_cells(planner):
    """An identity's one-digit numbers under labels "d0": the cells widen for the label (up to a limit),
    and a label cut to its cell ("d12…") fits it."""
    plan = planner.matrix(MatrixSpec("W", np.eye(3), None, ["d0", "d1", "d2"]), math.inf, HEIGHT)
    assert all(plan.col_text[j] == f"d{j}" for j in range(3))
    assert all(measure(t, plan.font)[0] <= plan.cell_w for t in plan.col_text.values())
    long = planner.matrix(MatrixSpec("W", np.eye(3), None, ["dimension0", "dimension1", "d2"]), math.inf, HEIGHT)
    assert long.col_text[0].endswith("…") and measure(long.col_text[0], long.font)[0] <= long.cell_w


def test_planning_needs_no_manim():
    """Pure data: the plan module imports nothing of Manim."""
    code = "import sys, attnpipe.render.plan; assert not any(m.startswith('manim') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
