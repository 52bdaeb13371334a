"""A matrix on screen, readable at the preview's size: as many of its numbers as fit in the room it is given
at the video's smallest legible size (labels.VIDEO), the rest elided visibly (⋯ between columns, ⋮ between
rows, ⋱ where both meet, as numpy prints a big array), the rows and columns a step points at always in view.
Rows are labelled with their position and token (`6:fox`) or dimension (`d273`), columns with their
dimension or key, as in the CSVs, so a written-out dot product's row and column can be found. Signed and
probability matrices colour their cells on the scale of the whole matrix (render.colours); where that scale
is clipped at percentiles, a colour bar beside the grid says so.

Views are built once per scene and reused by later steps (MatrixViews): setting type and building cells is
most of a render's time."""

from dataclasses import dataclass

import numpy as np
from manim import LEFT, RIGHT, UP, Group, Rectangle, VGroup

from ..look.colours import ColourScale, rgb_hex, text_colour_on
from .elision import pick, slots
from .glyphs import clone
from .labels import VIDEO, digit_size
from .widgets import BAR_LABEL_BUFF, colour_bar, scale_ends

SET_ABOVE_MIN = 1.0  # numbers and labels at the video's smallest legible size (10.5 px: half a pixel above it)
PAD = 0.12  # units of a cell's width beyond its widest number
PITCH = 1.75  # a row's height in digit heights
GAP = 0.55  # an elided slot's width (or height) in cells
KEPT = 10  # views kept for reuse: memory stays flat however long the story
LABEL_BUFF = 0.1
BAR_WIDTH = 0.16


@dataclass
class Room:
    width: float
    height: float


CHUNK_VALUES = 1 << 20  # numbers widest_chars measures at a time: a 16384-wide W_q at once took GBs of temporaries


def as_values(values) -> np.ndarray:
    """A float array of `values` without copying one that is float already (a model's float32 W: 1 GB at width
    16384; its shown numbers are read one by one)."""
    values = np.asarray(values)
    return values if values.dtype.kind == "f" else values.astype(float)


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


class MatrixView(Group):
    """heading, body (cells), labels, optional bar. `box(rows, cols)` finds cells by index wherever the
    view has been moved or scaled to; `row_cells[i]` are row i's mobjects (for revealing rows one by one)."""

    def box(self, rows=None, cols=None) -> tuple[float, float, float, float]:
        """(left, right, top, bottom) around the shown cells of `rows` x `cols` (None: all shown)."""
        scale = self.body.width / self.build_width
        left, top = self.body.get_left()[0], self.body.get_top()[1]
        xs = [self.col_pos[j] for j in (self.cols if cols is None else cols)]
        ys = [self.row_pos[i] for i in (self.rows if rows is None else rows)]
        return (left + min(a for a, _ in xs) * scale, left + max(b for _, b in xs) * scale,
                top - min(a for a, _ in ys) * scale, top - max(b for _, b in ys) * scale)

    def outline(self, rows=None, cols=None, color="#fde725", stroke_width=3, buff=0.03) -> Rectangle:
        x0, x1, y0, y1 = self.box(rows, cols)
        frame = Rectangle(width=x1 - x0 + 2 * buff, height=y0 - y1 + 2 * buff, color=color, stroke_width=stroke_width)
        return frame.move_to([(x0 + x1) / 2, (y0 + y1) / 2, 0])

    def restore(self) -> "MatrixView":
        """Back to the size it was built at (a later step may have fitted it smaller)."""
        return self.scale(self.build_width / self.body.width)


class MatrixViews:
    """The scene's matrices: built on demand through the scene's text()/number()/derived() (which record what
    is shown), kept for reuse."""

    def __init__(self, scene):
        self.scene = scene
        self.kept: dict = {}

    def font(self) -> float:
        return VIDEO.font() * SET_ABOVE_MIN

    def demand(self, title, values, rows=None, cols=None, kind="plain", **_) -> float:
        """About how wide the view would be with every column shown: what it asks of a row of views."""
        font, char_w = self.font(), digit_size()[1]
        values = as_values(values)
        cell = widest_chars(values, self.scene.precision) * char_w * font + PAD
        labels = max(map(len, rows)) * char_w * font + LABEL_BUFF if rows is not None else 0.0
        scale = ColourScale.of(values, kind) if kind != "plain" else None
        bar = BAR_WIDTH + 9 * digit_size()[1] * font + 0.4 if scale is not None and scale.clipped else 0.0
        return max(labels + values.shape[1] * cell + bar, len(title) * char_w * font * 1.05)

    def view(self, title, values, rows, cols, room: Room, kind="plain", source=None, row_ids=None, col_offset=0,
             col_ids=None, focus_rows=(), focus_cols=()) -> MatrixView:
        """`values` (n x m) titled `title`, in at most `room`; `rows`/`cols`: labels (or None). Cell (i, j) is
        `source`'s (row_ids[i], col_ids[j]) (default: i, j + col_offset): what the fidelity record names.
        `focus_*`: indices kept in view."""
        values = as_values(values)
        row_ids = list(row_ids) if row_ids is not None else list(range(len(values)))
        col_ids = list(col_ids) if col_ids is not None else [j + col_offset for j in range(values.shape[1])]
        key = (title, source, tuple(row_ids[:1]), tuple(col_ids[:2]), tuple(focus_rows), tuple(focus_cols),
               round(room.width, 2), round(room.height, 2))
        if key in self.kept:
            view = self.kept.pop(key)
            self.kept[key] = view  # most recently used last
            return view.restore()
        view = self.build(title, values, rows, cols, room, kind, source or title, row_ids, col_ids,
                          focus_rows, focus_cols)
        self.kept[key] = view
        while len(self.kept) > KEPT:
            self.kept.pop(next(iter(self.kept)))
        return view

    def build(self, title, values, rows, cols, room, kind, source, row_ids, col_ids, focus_rows, focus_cols):
        scene, font = self.scene, self.font()
        n, m = values.shape
        digit_h, digit_w = digit_size()
        precision = scene.precision
        coloured = kind != "plain"
        scale = ColourScale.of(values, kind) if coloured else None  # a plain matrix (a W) is not coloured
        heading = scene.text(title, font * 1.05, scene.colors["accent"])
        label_h = digit_h * font * 1.35  # a label's line, descenders included
        pitch = digit_h * font * PITCH
        number_w = widest_chars(values, precision) * digit_w * font
        # a column's label fits over it, cut only where it would be wider than 1.5 cells
        label_need = max(map(len, (cols[0], cols[-1]))) * digit_w * font + 0.08 if cols is not None else 0.0

        def cell_width(number_w: float) -> float:
            return max(number_w + PAD, min(1.5 * (number_w + PAD), label_need))

        cell_w = cell_width(number_w)
        bar_w = 0.0
        if coloured and scale.clipped:
            bar_w = BAR_WIDTH + BAR_LABEL_BUFF + 9 * digit_w * font + 0.15  # "99th percentile" tags at 0.8
        # rows first (their labels' width decides how many columns fit)
        free_h = room.height - heading.height - 0.12 - (label_h + LABEL_BUFF if cols is not None else 0)
        row_room = max(1, int((free_h + 1e-9) // pitch))
        shown_rows = pick(n, row_room, focus_rows)
        row_texts = {i: scene.text(rows[i], font) for i in shown_rows} if rows is not None else {}
        label_w = max((t.width for t in row_texts.values()), default=0.0) + (LABEL_BUFF if rows is not None else 0)
        col_room = max(1, int((room.width - label_w - bar_w + 1e-9) // cell_w))
        shown_cols = pick(m, col_room, focus_cols)
        row_slots, col_slots = slots(shown_rows, n), slots(shown_cols, m)
        # the numbers, then the cells sized to the widest
        numbers = {(i, j): scene.number(values[i, j], source, row_ids[i], col_ids[j], font)
                   for i in shown_rows for j in shown_cols}
        if numbers:  # the estimate was an upper bound: the cells as wide as the numbers shown need
            cell_w = cell_width(max(t.width for t in numbers.values()))

        col_pos, x = {}, 0.0
        gap_cols = []  # (left, right) of each elided column slot
        for j in col_slots:
            w = cell_w if j is not None else cell_w * GAP
            if j is not None:
                col_pos[j] = (x, x + w)
            else:
                gap_cols.append((x, x + w))
            x += w
        row_pos, y = {}, 0.0
        gap_rows = []
        for i in row_slots:
            h = pitch if i is not None else pitch * GAP * 1.4
            if i is not None:
                row_pos[i] = (y, y + h)
            else:
                gap_rows.append((y, y + h))
            y += h
        width, height = x, y
        rgb = scale.rgb(values[np.ix_(shown_rows, shown_cols)], scene.colors) if coloured else None
        template = Rectangle(width=cell_w, height=pitch, stroke_width=0.5, stroke_color="#555555")
        body, row_cells = VGroup(), {}
        frame = Rectangle(width=width, height=height, stroke_width=0).move_to([width / 2, -height / 2, 0])
        body.add(frame)  # the body's extent, gaps included (a gap at an edge has no cell to span it)
        for r, i in enumerate(shown_rows):
            y0, y1 = row_pos[i]
            cells = VGroup()
            for c, j in enumerate(shown_cols):
                x0, x1 = col_pos[j]
                box = clone(template).move_to([(x0 + x1) / 2, -(y0 + y1) / 2, 0])
                number = numbers[i, j]
                if rgb is not None:
                    box.set_fill(rgb_hex(rgb[r, c]), opacity=1.0)
                    number.set_color(text_colour_on(rgb[r, c]))
                cells.add(VGroup(box, number.move_to(box)))
            for (xa, xb) in gap_cols:  # ⋯ in this row, between the columns shown
                cells.add(scene.text("⋯", font).move_to([(xa + xb) / 2, -(y0 + y1) / 2, 0]))
            row_cells[i] = cells
            body.add(cells)
        for ya, yb in gap_rows:  # ⋮ under each column shown, ⋱ where both are elided
            for j in shown_cols:
                x0, x1 = col_pos[j]
                body.add(scene.text("⋮", font).move_to([(x0 + x1) / 2, -(ya + yb) / 2, 0]))
            for xa, xb in gap_cols:
                body.add(scene.text("⋱", font).move_to([(xa + xb) / 2, -(ya + yb) / 2, 0]))
        parts = [body]
        for i, label in row_texts.items():
            y0, y1 = row_pos[i]
            parts.append(label.move_to([-LABEL_BUFF, -(y0 + y1) / 2, 0], aligned_edge=RIGHT))
        if cols is not None:
            for j in shown_cols:
                x0, x1 = col_pos[j]
                label = scene.text(_fit_label(cols[j], cell_w - 0.04, digit_w * 1.12 * font), font)
                parts.append(label.move_to([(x0 + x1) / 2, 0, 0]).shift(UP * (LABEL_BUFF + label_h / 2)))
        if bar_w:
            parts.append(self.bar(values, scale, source, row_ids, col_ids, font, max(height, 1.4)).next_to(
                frame, RIGHT, buff=0.15).align_to(frame, UP))
        group = Group(*parts)
        heading.next_to(group, UP, buff=0.12).align_to(frame, LEFT)
        if heading.get_right()[0] > group.get_right()[0]:  # a long title over a narrow grid: centred on it
            heading.set_x(frame.get_x())
        view = MatrixView(heading, group)
        view.body, view.grid = frame, body
        view.n, view.m, view.rows, view.cols = n, m, shown_rows, shown_cols
        view.row_pos, view.col_pos, view.build_width = row_pos, col_pos, width
        view.row_cells, view.elided = row_cells, len(shown_rows) < n or len(shown_cols) < m
        # a view wider than its room (a heading wider than its grid, say) is fitted: the record of what was drawn
        # (transitions.note_drawn) shows whether that left any text too small
        if view.width > room.width:
            view.scale_to_fit_width(room.width)
        if view.height > room.height:
            view.scale_to_fit_height(room.height)
        return view

    def bar(self, values, scale, source, row_ids, col_ids, font, height):
        """The colour bar of a clipped scale: its ends are percentiles of the whole block shown, recorded as
        derived from it (a test recomputes them from the CSV)."""
        scene = self.scene

        def cell(i, j):
            return source, row_ids[i], col_ids[j]

        top, bottom = scale_ends(scene, values, scale, cell, (source, row_ids, col_ids), font, VIDEO.font())
        masked = None if np.all(np.isfinite(values)) else scene.text("−∞", font)
        return colour_bar(scale, scene.colors, height, BAR_WIDTH, top, bottom, masked)


def _fit_label(label: str, width: float, char_w: float) -> str:
    """`label` cut (with "…") to the characters that fit `width`."""
    chars = max(1, int(width // char_w))
    return label if len(label) <= chars else label[:max(1, chars - 1)] + "…"

