"""Text sizes that read where they are drawn, and token labels that never overlap.

Scene units do not depend on the resolution (the frame is 8 units high), so "digits at least 10 px tall at
640 x 360" is a size in units. Two such rules: the video's (VIDEO: every step, the last frame included, laid
out for the preview's 640 x 360; publish draws the same layout at 1920 x 1080) and the still's (STILL: the
result drawn again, laid out for 1920 x 1080, video.write_still).
"""

import math
from dataclasses import dataclass
from functools import cache

from manim import LEFT, PI, UP, Text, VGroup, config

from ..look.numbers import token_label

STILL_SIZE = (1920, 1080)
MIN_TEXT_PX = 12  # the smallest digit height on the still
MAX_LABEL_CHARS = 10  # longer token labels are cut, with "…"
LABEL_GAP = 0.015  # units between neighbouring labels (their boxes: the glyphs' own spacing comes on top)
LABEL_BUFF = 0.1  # units between a label and its row or column


@cache
def digit_size() -> tuple[float, float]:
    """(height, width) of a digit per font-size point, in units: measured on Pango's own glyphs."""
    sample = Text("0123456789", font_size=100)
    return sample.height / 100, sample.width / 1000


@dataclass(frozen=True)
class Legibility:
    """Digits at least `min_px` tall in a frame `height_px` pixels high."""
    min_px: float
    height_px: int

    def px(self, units: float) -> float:
        """How many pixels `units` of height are drawn as."""
        return units * self.height_px / config.frame_height

    def font(self, px: float | None = None) -> float:
        """The font size whose digits are `px` tall (default: the minimum, half a pixel above: no rounding
        below it)."""
        px = self.min_px + 0.5 if px is None else px
        return px * config.frame_height / self.height_px / digit_size()[0]


VIDEO = Legibility(10, 360)  # the preview's 640 x 360; every step of the video
STILL = Legibility(MIN_TEXT_PX, STILL_SIZE[1])  # attention.png








def short_label(row_label: str) -> str:
    """The token of '4:the', cut to MAX_LABEL_CHARS with '…'."""
    label = token_label(row_label)
    return label if len(label) <= MAX_LABEL_CHARS else label[:MAX_LABEL_CHARS - 1] + "…"


def token_rows(tokens: list[str]) -> list[str]:
    """Row labels with their position, as the CSVs write them: '6:fox' (a token cut to 10 characters)."""
    return [f"{i}:{short_label(t)}" for i, t in enumerate(tokens)]


def positions(count: int) -> list[str]:
    """Row or column labels by position only ('6'): beside a matrix whose rows name the tokens."""
    return [str(i) for i in range(count)]


def dims(count: int, offset: int = 0) -> list[str]:
    """Column labels of feature dimensions, as the CSVs write them: 'd0', 'd1', …"""
    return [f"d{offset + k}" for k in range(count)]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass
class AxisLabels:
    """Token labels along one side of a matrix: every `step`-th one, turned 90° where that fits more."""
    texts: VGroup  # the labels shown (placed by place_labels)
    shown: list[int]  # their row (or column) indices
    count: int  # how many rows (or columns) the matrix has
    rows: bool  # row labels (left of the matrix) or column labels (above it)
    step: int
    turned: bool
    cut: bool  # some label was cut to MAX_LABEL_CHARS

    @property
    def depth(self) -> float:
        """How far the labels reach out from the matrix: row labels' width, column labels' height."""
        extents = [t.width if self.rows else t.height for t in self.texts]
        return max(extents, default=0.0) + LABEL_BUFF


def axis_labels(make_text, labels: list[str], pitch: float, font_size: float, rows: bool,
                may_turn: bool = True) -> AxisLabels:
    """Labels for `rows` (one per row, `pitch` apart vertically) or columns. A column label is turned 90°
    when that lets more of them be shown; then every step-th label is kept so that none overlap.
    `make_text(string, font_size)` builds the Text (the scene's, which caches). Placed at the origin:
    call place_labels() once the matrix is where it will be."""
    count = len(labels)

    def plan(names: list[str]) -> tuple[int, bool, dict]:
        built: dict[int, Text] = {}

        def text(i: int) -> Text:
            if i not in built:
                built[i] = make_text(names[i], font_size)
            return built[i]

        def steps_needed(extent_of) -> int:
            # start from the digits' own size (no Text needed for labels that will be thinned out), then grow
            # the step until the labels kept are far enough apart
            step = max(1, math.ceil((digit_size()[0] * font_size + LABEL_GAP) / pitch - 1e-9))
            while True:
                extent = max(extent_of(text(i)) for i in range(0, count, step))
                need = math.ceil((extent + LABEL_GAP) / pitch - 1e-9)
                if need <= step:
                    return step
                step = need

        across = steps_needed(lambda t: t.height)  # rows, or turned columns: their height lies along the axis
        step, turned = across, False
        if not rows:
            flat = steps_needed(lambda t: t.width)
            step, turned = (across, True) if may_turn and across < flat else (flat, False)
        return step, turned, built

    names = [short_label(label) for label in labels]
    step, turned, built = plan(names)
    if step > 1:  # thinned: each label says its position, or two "dog"s could not be told apart
        names = [f"{i}:{name}" for i, name in enumerate(names)]
        step, turned, built = plan(names)
    shown = list(range(0, count, step))
    texts = VGroup(*[(built.get(i) or make_text(names[i], font_size)) for i in shown])
    if turned:
        for t in texts:
            t.rotate(PI / 2)
    cut = any(short_label(labels[i]) != token_label(labels[i]) for i in shown)
    return AxisLabels(texts, shown, count, rows, step, turned, cut)


def place_labels(axis: AxisLabels, body) -> AxisLabels:
    """Put the labels beside `body` (a grid or heatmap whose cells are a regular lattice): row labels
    right-aligned at its left, column labels bottom-aligned above it."""
    # the body's edges once: each get_top()/get_left() walks every point of the body
    left, top = body.get_left()[0], body.get_top()[1]
    if axis.rows:
        pitch = body.height / axis.count
        for i, label in zip(axis.shown, axis.texts):
            label.next_to([left, top, 0], LEFT, buff=LABEL_BUFF).set_y(top - (i + 0.5) * pitch)
    else:
        pitch = body.width / axis.count
        for j, label in zip(axis.shown, axis.texts):
            label.next_to([left, top, 0], UP, buff=LABEL_BUFF).set_x(left + (j + 0.5) * pitch)
    return axis


def label_notes(rows: AxisLabels | None, cols: AxisLabels | None, col_name: str = "column") -> list[str]:
    """What the image must say about its labels: thinned, turned, cut."""
    notes = []
    steps = {a.step for a in (rows, cols) if a is not None and a.step > 1}
    if steps:
        notes.append(" / ".join(f"every {ordinal(s)} token labelled" for s in sorted(steps)))
    if cols is not None and cols.turned:
        notes.append(f"{col_name} labels turned 90°")
    if any(a is not None and a.cut for a in (rows, cols)):
        notes.append(f"labels cut to {MAX_LABEL_CHARS} characters (…)")
    return notes
