"""A matrix on screen, built from its plan (render.plan: which rows and columns, what sizes): its numbers in
cells at the video's smallest legible size or above, the rest elided visibly (⋯ between columns, ⋮ between
rows, ⋱ where both meet, as numpy prints a big array). Rows are labelled with their position and token
(`6:fox`) or dimension (`d273`), columns with their dimension or key, as in the CSVs, so a written-out dot
product's row and column can be found. Signed and probability matrices colour their cells on the scale of the
whole matrix (render.colours); where that scale is clipped at percentiles, a colour bar beside the grid says so.

A view is built once per plan and reused by later steps (MatrixViews): setting type and building cells is
most of a render's time."""

import numpy as np
from manim import LEFT, RIGHT, UP, Group, Rectangle, VGroup

from ..look.colours import ColourScale, rgb_hex, text_colour_on
from .glyphs import clone
from .labels import VIDEO
from .plan import BAR_BUFF, BAR_WIDTH, HEADING_BUFF, HEADING_SIZE, LABEL_BUFF, MatrixPlan
from .widgets import colour_bar, scale_ends

KEPT = 10  # views kept for reuse: memory stays flat however long the story


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
        """Back to the size it was built at (a step may have drawn it larger)."""
        return self.scale(self.build_width / self.body.width)


class MatrixViews:
    """The scene's matrices: built from plans through the board's text()/number()/derived() (which record
    what is shown), once per plan, kept for reuse."""

    def __init__(self, board):
        self.board = board
        self.kept: dict = {}

    def view(self, plan: MatrixPlan) -> MatrixView:
        if plan.key in self.kept:
            view = self.kept.pop(plan.key)
            self.kept[plan.key] = view  # most recently used last
            return view.restore()
        view = self.build(plan)
        self.kept[plan.key] = view
        while len(self.kept) > KEPT:
            self.kept.pop(next(iter(self.kept)))
        return view

    def build(self, plan: MatrixPlan) -> MatrixView:
        board, spec, font = self.board, plan.spec, plan.font
        values, source, row_ids, col_ids = spec.values, spec.source, spec.row_ids, spec.col_ids
        width, height, cell_w, pitch = plan.grid_w, plan.grid_h, plan.cell_w, plan.pitch
        rgb = None
        if spec.coloured:
            scale = ColourScale.of(values, spec.kind)
            rgb = scale.rgb(values[np.ix_(plan.rows, plan.cols)], board.colors)
        template = Rectangle(width=cell_w, height=pitch, stroke_width=0.5, stroke_color="#555555")
        body, row_cells = VGroup(), {}
        frame = Rectangle(width=width, height=height, stroke_width=0).move_to([width / 2, -height / 2, 0])
        body.add(frame)  # the body's extent, gaps included (a gap at an edge has no cell to span it)
        for r, i in enumerate(plan.rows):
            y0, y1 = plan.row_pos[i]
            cells = VGroup()
            for c, j in enumerate(plan.cols):
                x0, x1 = plan.col_pos[j]
                box = clone(template).move_to([(x0 + x1) / 2, -(y0 + y1) / 2, 0])
                number = board.number(values[i, j], source, row_ids[i], col_ids[j], font)
                if rgb is not None:
                    box.set_fill(rgb_hex(rgb[r, c]), opacity=1.0)
                    number.set_color(text_colour_on(rgb[r, c]))
                cells.add(VGroup(box, number.move_to(box)))
            for xa, xb in plan.gap_cols:  # ⋯ in this row, between the columns shown
                cells.add(board.text("⋯", font).move_to([(xa + xb) / 2, -(y0 + y1) / 2, 0]))
            row_cells[i] = cells
            body.add(cells)
        for ya, yb in plan.gap_rows:  # ⋮ under each column shown, ⋱ where both are elided
            for j in plan.cols:
                x0, x1 = plan.col_pos[j]
                body.add(board.text("⋮", font).move_to([(x0 + x1) / 2, -(ya + yb) / 2, 0]))
            for xa, xb in plan.gap_cols:
                body.add(board.text("⋱", font).move_to([(xa + xb) / 2, -(ya + yb) / 2, 0]))
        parts = [body]
        if spec.rows is not None:
            for i in plan.rows:
                y0, y1 = plan.row_pos[i]
                label = board.text(spec.rows[i], font)
                parts.append(label.move_to([-LABEL_BUFF, -(y0 + y1) / 2, 0], aligned_edge=RIGHT))
        if spec.cols is not None:
            for j in plan.cols:
                x0, x1 = plan.col_pos[j]
                label = board.text(plan.col_text[j], font)
                parts.append(label.move_to([(x0 + x1) / 2, 0, 0]).shift(UP * (LABEL_BUFF + plan.label_h / 2)))
        if plan.bar_w:
            parts.append(self.bar(spec, scale, font, plan.bar_h).next_to(frame, RIGHT, buff=BAR_BUFF)
                         .align_to(frame, UP))
        group = Group(*parts)
        heading = board.text(spec.title, font * HEADING_SIZE, board.colors["accent"])
        heading.next_to(group, UP, buff=HEADING_BUFF).align_to(frame, LEFT)
        if heading.get_right()[0] > group.get_right()[0]:  # a long title over a narrow grid: from the labels' left
            heading.align_to(group, LEFT)
        view = MatrixView(heading, group)
        view.body, view.grid = frame, body
        view.n, view.m = values.shape
        view.rows, view.cols, view.elided = plan.rows, plan.cols, plan.elided
        view.row_pos, view.col_pos, view.build_width = plan.row_pos, plan.col_pos, width
        view.row_cells = row_cells
        return view

    def bar(self, spec, scale, font, height):
        """The colour bar of a clipped scale: its ends are percentiles of the whole block shown, recorded as
        derived from it (a test recomputes them from the CSV)."""
        board = self.board

        def cell(i, j):
            return spec.source, spec.row_ids[i], spec.col_ids[j]

        block = (spec.source, spec.row_ids, spec.col_ids)
        top, bottom = scale_ends(board, spec.values, scale, cell, block, font, VIDEO.font())
        masked = None if np.all(np.isfinite(spec.values)) else board.text("−∞", font)
        return colour_bar(scale, board.colors, height, BAR_WIDTH, top, bottom, masked)

