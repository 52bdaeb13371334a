"""The result: the attention weights of the shown heads as small multiples with one colour bar, laid out
so that every text reads at a given size: the video's last frame at the preview's (labels.VIDEO), the still
(attention.png) again at 1920 x 1080 (labels.STILL), where more fits.

Numbers go in the cells only where one of the smallest legible size fits (and the map has at most
MAX_TEXT_CELLS tokens); otherwise the maps are colour-only and the bar gives the scale: 0 to the
largest weight shown. Maps limited by the frame's height widen their cells (up to WIDE) to use its width.
All heads share their tokens, so query labels run down the left of the first
column of maps and key labels across the top of the first row, thinned, turned or cut where they would
overlap (labels.axis_labels); the note under the maps says which.
"""

import math
from dataclasses import replace

import numpy as np
from manim import DOWN, Group, VGroup, config

from ..look.colours import MAX_TEXT_CELLS, ColourScale, weights_meaning
from ..look.numbers import fmt
from .board import Board
from .labels import LABEL_GAP, axis_labels, digit_size, label_notes, place_labels
from .story import Story
from .widgets import BAR_LABEL_BUFF, colour_bar, heatmap_image, number_grid, scale_ends

MAX_CELL = 1.4  # a 3-token map is 4.2 units wide, not the whole frame
WIDE = 1.6  # a cell at most this many times as wide as tall
NUMBER_FONT_MAX = 28
LABEL_FONT_MAX = 18
HEAD_GAP = 0.3  # units between maps
BAR_WIDTH = 0.25
MARGIN = 0.35  # units kept clear at the frame's sides and bottom


def result_panel(scene: Board, s: Story, top: float, legibility) -> Group:
    """Story `s`'s result: everything under `top` (the caption's bottom) on the final frame, every text at
    least `legibility`'s size (labels.VIDEO for the video's last frame, labels.STILL for the still). `scene`
    draws: its text()/number()/derived() build (and record) every text."""
    heads = list(s.show_heads)
    values = s.attn[heads]  # (H, T, T)
    count, tokens = values.shape[1], s.tokens
    kind = s.weights_kind
    scale = ColourScale.of(values, kind)
    small = legibility.font()
    accent = scene.colors["accent"]

    bar_font = max(small, 16)
    bar_top, bar_bottom = bar_end_labels(scene, values, heads, scale, bar_font, small)
    bar_room = BAR_WIDTH + BAR_LABEL_BUFF + max(bar_top.width, bar_bottom.width) + HEAD_GAP
    titles = [scene.text(head_title(s, h, len(heads)), max(small, 18 if len(heads) > 1 else 20), accent)
              for h in heads]
    title_h = max(t.height for t in titles) + 0.12
    note_font = max(small, 12)
    note_lines = 3 if note_font > 15 else 2  # the note under the maps, at the video's size in up to 3 lines
    bottom = -config.frame_height / 2 + MARGIN + note_lines * 1.45 * digit_size()[0] * note_font + 0.2
    width = config.frame_width - 2 * MARGIN
    label_max = max(LABEL_FONT_MAX, small * 1.1)

    def fit(gutter: float, band: float) -> tuple[int, int, float, float]:
        """(map columns, map rows, cell side, room across per cell) with the largest square cells in the room
        left by the labels."""
        best = (1, len(heads), 0.0, 0.0)
        for cols in range(1, len(heads) + 1):
            rows = math.ceil(len(heads) / cols)
            across = (width - gutter - bar_room - (cols - 1) * HEAD_GAP) / (cols * count)
            down = (top - bottom - band - rows * title_h - (rows - 1) * HEAD_GAP) / (rows * count)
            cell = min(across, down, MAX_CELL)
            if cell > best[2] + 1e-9:
                best = (cols, rows, cell, across)
        return best

    def label_font(pitch: float) -> float:
        # as large as the rows allow (a label's line, descenders included, is ~1.3 digit heights), never
        # below the smallest legible size
        return max(small, min(label_max, (pitch - LABEL_GAP) / (1.3 * digit_size()[0])))

    # plan the labels for a pitch no larger than the cells they end up beside: none can overlap
    pitch = fit(0.0, 0.0)[2]
    for _ in range(6):
        row_axis = axis_labels(scene.text, tokens, pitch, label_font(pitch), rows=True)
        col_axis = axis_labels(scene.text, tokens, pitch, label_font(pitch), rows=False)
        cols, _, cell, across = fit(row_axis.depth, col_axis.depth)
        if cell >= pitch - 1e-9:
            break
        pitch = cell
    cell = min(cell, pitch)
    # maps limited by the height use the width too: cells up to WIDE times as wide as tall (the keys'
    # labels get the room), so a long prompt's map is not a square in half the frame
    cell_w = max(cell, min(across, WIDE * cell, MAX_CELL))
    if cell_w > cell + 1e-9:
        col_axis = axis_labels(scene.text, tokens, cell_w, label_font(cell_w), rows=False)

    number_font = cell_number_font(scene, values, min(cell, cell_w), small) if count <= MAX_TEXT_CELLS else None
    side_w, side_h = count * cell_w, count * cell
    used = row_axis.depth + cols * side_w + (cols - 1) * HEAD_GAP + bar_room
    x0 = -used / 2 + row_axis.depth  # the maps' left edge, the whole panel centred
    panel, maps = Group(), []
    for index, h in enumerate(heads):
        r, c = divmod(index, cols)
        rgb = scale.rgb(values[index], scene.colors)
        if number_font is not None:
            numbers = [[scene.number(values[index][i, j], f"attention[{h}]", i, j, number_font)
                        for j in range(count)] for i in range(count)]
            body = number_grid(numbers, rgb, cell_w, cell)
        else:
            body = heatmap_image(rgb, side_w, side_h)
        map_top = top - title_h - col_axis.depth - r * (side_h + title_h + HEAD_GAP)
        body.move_to([x0 + c * (side_w + HEAD_GAP) + side_w / 2, map_top - side_h / 2, 0])
        label_top = map_top + (col_axis.depth if r == 0 else 0.0)
        panel.add(body, titles[index].move_to([body.get_x(), label_top + title_h / 2, 0]))
        if c == 0:
            panel.add(place_labels(_copy(row_axis), body).texts)
        if r == 0:
            panel.add(place_labels(_copy(col_axis), body).texts)
        maps.append(body)

    # one bar beside the maps, as tall as all their rows
    bar = colour_bar(scale, scene.colors, maps[0].get_top()[1] - maps[-1].get_bottom()[1], BAR_WIDTH,
                     bar_top, bar_bottom)
    bar_left = x0 + cols * side_w + cols * HEAD_GAP
    bar.shift([bar_left - bar[0].get_left()[0], maps[0].get_top()[1] - bar[0].get_top()[1], 0])
    panel.add(bar)
    room = top - bottom
    if panel.height < room:  # small maps: centred in the room, not stuck under the caption
        panel.shift([0, -(room - panel.height) / 2, 0])
    return Group(panel, note(scene, row_axis, col_axis, scale, note_font))


def head_title(s, head: int, count: int) -> str:
    """A map's title: 'head 3'; alone, 'attention weights', naming its head when the setting has others
    ('head 3 · reads K/V head 1')."""
    if count > 1:
        return f"head {head}"
    if s.heads == 1:
        return "attention weights"
    reads = f" · reads K/V head {s.kv_of[head]}" if s.grouped else ""
    return f"head {head} of {s.heads}{reads}"


def bar_end_labels(scene, values: np.ndarray, heads: list[int], scale, font: float, small: float):
    """The bar's end labels for the (H, T, T) weights of `heads`: stage values recorded in their head's
    CSV rows, or a percentile of all of them (the attention CSV stacks heads: head h's row i is h*T + i)."""
    count = values.shape[1]

    def cell(h, i, j):
        return f"attention[{heads[h]}]", int(i), int(j)

    block = ("attention", [h * count + i for h in heads for i in range(count)], range(count))
    return scale_ends(scene, values, scale, cell, block, font, small)


def cell_number_font(scene, values: np.ndarray, cell: float, small: float) -> float | None:
    """The font size for numbers in cells of side `cell`: as large as fits (up to NUMBER_FONT_MAX), or
    None where even the smallest legible one would not fit (the maps are colour-only then)."""
    texts = {fmt(float(v), scene.precision) for v in values.ravel()}
    longest = max(len(t) for t in texts)
    probe_size = 10.0
    widest = max(scene.text(t, probe_size).width for t in sorted(texts) if len(t) >= longest - 1)
    font = min(NUMBER_FONT_MAX, probe_size * 0.82 * cell / widest, 0.5 * cell / digit_size()[0])
    return font if font >= small else None


def note(scene, row_axis, col_axis, scale, font: float) -> VGroup:
    """The line under the maps: what rows and columns are, what the labels leave out, what colour means."""
    parts = ["rows: queries", "columns: keys"] + label_notes(row_axis, col_axis, col_name="key")
    parts.append(f"colour: {weights_meaning(scale)}")
    # as many lines as it needs at its size, broken between parts
    width, lines, line = config.frame_width - 2 * MARGIN, [], []
    for part in parts:
        if line and scene.text(" · ".join([*line, part]), font).width > width:
            lines.append(line)
            line = []
        line.append(part)
    lines.append(line)
    text = VGroup(*[scene.text(" · ".join(words), font, "#dddddd") for words in lines]).arrange(DOWN, buff=0.08)
    return text.to_edge(DOWN, buff=MARGIN)


def _copy(axis):
    """The same labels again, for the next row or column of maps."""
    return replace(axis, texts=axis.texts.copy())

