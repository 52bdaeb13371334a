"""A step's layout, planned before anything is built: which rows and columns of each matrix are written out,
how big its cells are, and how large the whole row of matrices is drawn in the room the frame leaves.

Pure data: no Manim objects, no numbers recorded. Text is measured by `measure(string, size) -> (width,
height)` (the glyph cache's, in the scene). Everything is planned at the video's smallest legible size
(labels.VIDEO); a step whose matrices leave room is then drawn larger (`scale`, up to MAX_SCALE) to use
the frame. A matrix is elided (⋯ ⋮) only where showing it whole at the smallest size does not fit."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..look.colours import ColourScale
from ..look.numbers import fmt
from .elision import pick, slots

Measure = Callable[[str, float], tuple[float, float]]

PAD = 0.12  # units of a cell's width beyond its widest number
LABEL_CELLS = 2.5  # a column label widens its cells up to this many times its numbers' width (then it is cut)
PITCH = 1.75  # a row's height in digit heights
GAP = 0.55  # an elided slot's width (or height) in cells
LABEL_BUFF = 0.1  # units between the labels and the cells
HEADING_BUFF = 0.12  # units between the heading and what is under it
HEADING_SIZE = 1.05  # the heading's font, times the numbers'
BAR_WIDTH = 0.16
BAR_BUFF = 0.15  # units between the cells and the colour bar
BAR_MIN_HEIGHT = 1.4
MAP_SHARE = 2.0  # a coloured map (what a step is about) gets this many times the width of a plain matrix
MAX_SCALE = 1.8  # a step with room is drawn at most this much larger: 3 x 3 numbers are not posters
WHOLE_CELLS = 4096  # up to this many cells in a row of matrices, try each whole (its numbers measured) first
SPARE = 0.3  # units of width left over worth giving to a matrix that hides columns


@dataclass(eq=False)
class MatrixSpec:
    """What a step asks to show: `values` (n x m) titled `title`; `rows`/`cols`: labels (or None). Cell (i, j)
    is `source`'s (row_ids[i], col_ids[j]) (default: i, j + col_offset): what the record of numbers names.
    `focus_*`: indices always in view (the first of each: the one a step points at)."""
    title: str
    values: np.ndarray
    rows: list[str] | None = None
    cols: list[str] | None = None
    kind: str = "plain"  # plain, signed or probability: how the cells are coloured
    source: str | None = None
    row_ids: list[int] | None = None
    col_ids: list[int] | None = None
    col_offset: int = 0
    focus_rows: tuple = ()
    focus_cols: tuple = ()

    def __post_init__(self):
        # a float array is not copied: a model's float32 W is 1 GB at width 16384, its shown numbers read one by one
        values = np.asarray(self.values)
        self.values = values if values.dtype.kind == "f" else values.astype(float)
        n, m = self.values.shape
        self.source = self.source or self.title
        self.row_ids = list(self.row_ids) if self.row_ids is not None else list(range(n))
        self.col_ids = list(self.col_ids) if self.col_ids is not None else [j + self.col_offset for j in range(m)]
        self.focus_rows, self.focus_cols = tuple(self.focus_rows), tuple(self.focus_cols)

    @property
    def coloured(self) -> bool:
        return self.kind != "plain"


@dataclass(eq=False)
class MatrixPlan:
    """Where everything of one matrix view goes, at `font`, in units from the cells' top-left corner (y
    grows downward): the rows and columns shown, each slot's span, the gaps (elided slots) between them."""
    spec: MatrixSpec
    font: float
    rows: list[int]  # shown, in order
    cols: list[int]
    cell_w: float
    pitch: float
    row_pos: dict[int, tuple[float, float]]
    col_pos: dict[int, tuple[float, float]]
    gap_rows: list[tuple[float, float]]
    gap_cols: list[tuple[float, float]]
    label_w: float  # the row labels' column, its buff included (0: no labels)
    label_h: float  # the column labels' line (0: no labels)
    heading: tuple[float, float]  # the heading's (width, height)
    bar_w: float  # the colour bar with its end labels, its buff included (0: no bar)
    col_text: dict[int, str]  # the column labels as shown (cut with "…" to their cells)
    grid_w: float = field(init=False)
    grid_h: float = field(init=False)

    def __post_init__(self):
        spans = [b for _, b in [*self.col_pos.values(), *self.gap_cols]]
        self.grid_w = max(spans, default=0.0)
        self.grid_h = max((b for _, b in [*self.row_pos.values(), *self.gap_rows]), default=0.0)

    @property
    def key(self) -> tuple:
        """What makes two plans the same view (a later step reuses the view built for it)."""
        s = self.spec
        return (s.title, s.source, s.kind, tuple(s.row_ids[:1]), tuple(s.col_ids[:2]), tuple(self.rows),
                tuple(self.cols), round(self.font, 3))

    @property
    def elided(self) -> bool:
        return len(self.rows) < self.spec.values.shape[0] or len(self.cols) < self.spec.values.shape[1]

    @property
    def bar_h(self) -> float:
        return max(self.grid_h, BAR_MIN_HEIGHT) if self.bar_w else 0.0

    @property
    def width(self) -> float:
        return max(self.label_w + self.grid_w + self.bar_w, self.heading[0])

    @property
    def height(self) -> float:
        above = self.heading[1] + HEADING_BUFF + (self.label_h + LABEL_BUFF if self.label_h else 0.0)
        return above + max(self.grid_h, self.bar_h)


CHUNK_VALUES = 1 << 20  # numbers widest_chars measures at a time: a 16384-wide W_q at once took GBs of temporaries


def widest_chars(values: np.ndarray, precision: int) -> int:
    """An upper bound on len(numbers.fmt(v)) over `values`, without formatting each one (a W is 147,456), a
    block of rows at a time, in float64."""
    if values.size == 0:
        return 2
    rows = values.reshape(-1, values.shape[-1])
    step = max(1, CHUNK_VALUES // max(rows.shape[1], 1))
    chars, masked = 0, False
    for start in range(0, rows.shape[0], step):
        block = rows[start:start + step].astype(np.float64)
        finite = block[np.isfinite(block)]
        masked |= finite.size < block.size
        if finite.size == 0:
            continue
        whole = np.floor(np.log10(np.maximum(np.abs(finite), 1.0))) + 1
        fraction = np.where(finite == np.round(finite), 0, 1 + precision)
        chars = max(chars, int((whole + (finite < 0) + fraction).max()))
    if chars == 0:
        return 2
    return max(chars, 2 if masked else 1)


class Planner:
    """Plans matrix views and rows of them at `font` (the numbers' size), measuring text with `measure`."""

    def __init__(self, font: float, digit: tuple[float, float], precision: int, measure: Measure):
        self.font, self.precision, self.measure = font, precision, measure
        self.digit_h, self.digit_w = digit[0] * font, digit[1] * font  # a digit's size at `font`, in units

    # ---- one matrix -----------------------------------------------------------------------------

    def bar_width(self, spec: MatrixSpec) -> float:
        """The colour bar of a clipped scale, with its end labels ("99th percentile" tags): 0 without one."""
        if not spec.coloured or not ColourScale.of(spec.values, spec.kind).clipped:
            return 0.0
        return BAR_BUFF + BAR_WIDTH + 0.08 + 9 * self.digit_w + 0.15

    def cell_width(self, spec: MatrixSpec, number_w: float) -> float:
        """Wide enough for the widest number, and for a column label up to LABEL_CELLS numbers (longer ones are
        cut): an estimate from the labels' lengths."""
        label_need = max(len(spec.cols[0]), len(spec.cols[-1])) * self.digit_w + 0.08 if spec.cols else 0.0
        return max(number_w + PAD, min(LABEL_CELLS * (number_w + PAD), label_need))

    def demand(self, spec: MatrixSpec) -> float:
        """About how wide the view is with every column shown (an upper bound: from widest_chars)."""
        m = spec.values.shape[1]
        cell = self.cell_width(spec, widest_chars(spec.values, self.precision) * self.digit_w)
        labels = max(map(len, spec.rows)) * self.digit_w + LABEL_BUFF if spec.rows else 0.0
        heading = len(spec.title) * self.digit_w * HEADING_SIZE
        return max(labels + m * cell + self.bar_width(spec), heading)

    def matrix(self, spec: MatrixSpec, width: float, height: float, only_focus: bool = False) -> MatrixPlan:
        """The most of `spec` that fits `width` x `height` at this font: rows first (their labels' width
        decides how many columns fit), the focus kept in view, the rest elided. `only_focus`: the columns a
        step points at and no others, whatever the width."""
        values, font = spec.values, self.font
        n, m = values.shape
        heading = self.measure(spec.title, font * HEADING_SIZE)
        label_h = self.digit_h * 1.35 if spec.cols else 0.0  # a label's line, descenders included
        pitch = self.digit_h * PITCH
        bar_w = self.bar_width(spec)
        free_h = height - heading[1] - HEADING_BUFF - (label_h + LABEL_BUFF if spec.cols else 0.0)
        rows = pick(n, max(1, int((free_h + 1e-9) // pitch)), spec.focus_rows)
        label_w = (max(self.measure(spec.rows[i], font)[0] for i in rows) + LABEL_BUFF) if spec.rows else 0.0
        across = width - label_w - bar_w

        def sized(cols: list[int]) -> tuple[list[int], float]:
            """`cols`, and the cells as wide as their numbers (and labels, up to LABEL_CELLS numbers) need."""
            texts = {fmt(float(values[i, j]), self.precision) for i in rows for j in cols}
            number_w = max(self.measure(t, font)[0] for t in texts) + PAD
            # the labels' width estimated (setting each candidate's type costs more than the whole plan); a label
            # wider than its cell is cut to fit it (fit)
            label_need = max(len(spec.cols[j]) for j in cols) * self.digit_w + 0.08 if spec.cols else 0.0
            return cols, max(number_w, min(LABEL_CELLS * number_w, label_need))

        def columns(cell: float) -> tuple[list[int], float]:
            """The columns shown in cells `cell` wide, sized."""
            count = m if math.isinf(across) else _slots_that_fit(m, across, cell, spec.focus_cols)
            return sized(pick(m, count, spec.focus_cols))

        if only_focus:
            cols, cell_w = sized(sorted({j for j in spec.focus_cols if 0 <= j < m}) or [0])
        else:  # from an upper bound on the numbers' width; where the numbers shown are narrower, more may fit
            cols, cell_w = columns(self.cell_width(spec, widest_chars(values, self.precision) * self.digit_w))
        if len(cols) < m and not only_focus:
            more, more_w = columns(cell_w)
            if _width(slots(more, m), more_w) <= across:
                cols, cell_w = more, more_w
        col_pos, gap_cols = _spans(slots(cols, m), cell_w, cell_w * GAP)
        row_pos, gap_rows = _spans(slots(rows, n), pitch, pitch * GAP * 1.4)
        col_text = {j: self.fit(spec.cols[j], cell_w - 0.04) for j in cols} if spec.cols else {}
        return MatrixPlan(spec, font, rows, cols, cell_w, pitch, row_pos, col_pos, gap_rows, gap_cols,
                          label_w, label_h, heading, bar_w, col_text)

    def fit(self, label: str, width: float) -> str:
        """`label`, cut (with "…") to what fits `width` at this font."""
        cut = label
        while len(cut) > 1 and self.measure(cut, self.font)[0] > width:
            label = label[:-1]
            cut = label + "…"
        return cut

    # ---- a row of them ----------------------------------------------------------------------------

    def row(self, specs: list[MatrixSpec], fixed: float, width: float, height: float) -> tuple[list[MatrixPlan], float]:
        """Plans for `specs` side by side in `width` x `height`, beside `fixed` units of operators and
        spacing, and the scale the row is drawn at (>= 1 where it fits: the frame used, up to MAX_SCALE).
        Every matrix whole where all fit at this font; else each is given the width its focus columns need
        (where they all fit) and a share of the rest by what it asks for (the coloured maps, what a step is
        about, more), and the height."""
        room = width - fixed
        demands = [self.demand(spec) for spec in specs]
        plans = None
        if sum(spec.values.size for spec in specs) <= WHOLE_CELLS:  # whole, where their exact widths fit
            plans = [self.matrix(spec, math.inf, height) for spec in specs]
            if sum(p.width for p in plans) > room:
                plans = None
        if plans is None:
            weights = [MAP_SHARE if spec.coloured else 1.0 for spec in specs]
            # first the columns each step points at (a dot product's terms), where they all fit; then the rest
            floors = [min(self.matrix(spec, math.inf, height, only_focus=True).width, d)
                      for spec, d in zip(specs, demands)]
            if sum(floors) > room:
                floors = [0.0] * len(specs)
            extra = share(room - sum(floors), [d - f for d, f in zip(demands, floors)], weights)
            shares = [f + e for f, e in zip(floors, extra)]
            plans = [self.matrix(spec, w, height) for spec, w in zip(specs, shares)]
            # a plan fills its share only up to a whole column: what the others left over goes to the first
            # one that hides columns (one that hides columns a step points at first, then the maps)
            left = room - sum(p.width for p in plans)
            for k in sorted(range(len(specs)), key=lambda k: (set(specs[k].focus_cols) <= set(plans[k].cols),
                                                               not specs[k].coloured)):
                if left > SPARE and len(plans[k].cols) < specs[k].values.shape[1]:
                    wider = self.matrix(specs[k], plans[k].width + left, height)
                    left -= wider.width - plans[k].width
                    plans[k] = wider
        used_w, used_h = fixed + sum(p.width for p in plans), max(p.height for p in plans)
        return plans, min(MAX_SCALE, width / used_w, height / used_h)


def _width(slots_: list, cell: float) -> float:
    """How wide `slots_` are in cells `cell` wide (a gap: GAP cells)."""
    return sum(cell if index is not None else cell * GAP for index in slots_)


def _slots_that_fit(count: int, width: float, cell: float, focus) -> int:
    """The most slots (cells and the gaps between them) of `count` columns that `width` holds."""
    room = max(1, int((width + 1e-9) // cell))
    while room < count and _width(slots(pick(count, room + 1, focus), count), cell) <= width + 1e-9:
        room += 1
    return room


def _spans(slots_: list, size: float, gap: float) -> tuple[dict, list]:
    """(index -> (start, end)) of the slots shown and the (start, end) of each gap, laid end to end."""
    spans, gaps, at = {}, [], 0.0
    for index in slots_:
        step = size if index is not None else gap
        if index is None:
            gaps.append((at, at + step))
        else:
            spans[index] = (at, at + step)
        at += step
    return spans, gaps


def share(total: float, demands: list[float], weights: list[float]) -> list[float]:
    """`total` split among parts asking for `demands`: none gets more than it asks, the rest in proportion
    to `weights`."""
    out, left = [0.0] * len(demands), total
    order = sorted(range(len(demands)), key=lambda i: demands[i] / weights[i])
    for k, i in enumerate(order):
        out[i] = min(demands[i], left * weights[i] / sum(weights[j] for j in order[k:]))
        left -= out[i]
    return out
