"""The final frame, which the still (attention.png) is drawn from: the attention weights of the shown
heads as small multiples with one colour bar, laid out so that every text reads at the still's size
(labels.STILL_SIZE, labels.MIN_TEXT_PX).

Numbers go in the cells only where one of at least MIN_TEXT_PX fits (and the map has at most
`max_text_cells` tokens); otherwise the maps are colour-only and the bar gives the scale: 0 to the
largest weight shown. All heads share their tokens, so query labels run down the left of the first
column of maps and key labels across the top of the first row, thinned, turned or cut where they would
overlap (labels.axis_labels); the note under the maps says which.
"""

import math
from dataclasses import replace

import numpy as np
from manim import DOWN, Group, VGroup, config

from .colours import CLIP_PERCENTILES, ColourScale
from .labels import axis_labels, digit_size, label_notes, min_font, ordinal, place_labels
from .numbers import fmt
from .widgets import BAR_LABEL_BUFF, colour_bar, heatmap_image, number_grid

MAX_CELL = 1.4  # a 3-token map is 4.2 units wide, not the whole frame
NUMBER_FONT_MAX = 28
LABEL_FONT_MAX = 18
HEAD_GAP = 0.3  # units between maps
BAR_WIDTH = 0.25
MARGIN = 0.35  # units kept clear at the frame's sides and bottom


def result_panel(scene, top: float, max_text_cells: int) -> Group:
    """Everything under `top` (the caption's bottom) on the final frame. `scene` is the AttentionStory:
    its text()/number() build (and record) every text."""
    s = scene.story
    heads = list(s.show_heads)
    values = s.attn[heads]  # (H, T, T)
    count, tokens = values.shape[1], s.tokens
    kind = s.weights_kind
    scale = ColourScale.of(values, kind)
    small = min_font()
    accent = scene.colors["accent"]

    bar_font = max(small, 16)
    bar_top, bar_bottom = bar_end_labels(scene, values, heads, scale, bar_font)
    bar_room = BAR_WIDTH + BAR_LABEL_BUFF + max(bar_top.width, bar_bottom.width) + HEAD_GAP
    titles = [scene.text(f"head {h}" if len(heads) > 1 else "attention weights", 18 if len(heads) > 1 else 20, accent)
              for h in heads]
    title_h = max(t.height for t in titles) + 0.12
    note_font = max(small, 12)
    bottom = -config.frame_height / 2 + MARGIN + 2 * digit_size()[0] * note_font + 0.2  # room for the note
    width = config.frame_width - 2 * MARGIN

    def fit(gutter: float, band: float) -> tuple[int, int, float]:
        """(map columns, map rows, cell side) with the largest cells in the room left by the labels."""
        best = (1, len(heads), 0.0)
        for cols in range(1, len(heads) + 1):
            rows = math.ceil(len(heads) / cols)
            across = (width - gutter - bar_room - (cols - 1) * HEAD_GAP) / (cols * count)
            down = (top - bottom - band - rows * title_h - (rows - 1) * HEAD_GAP) / (rows * count)
            cell = min(across, down, MAX_CELL)
            if cell > best[2] + 1e-9:
                best = (cols, rows, cell)
        return best

    # plan the labels for a pitch no larger than the cells they end up beside: none can overlap
    pitch = fit(0.0, 0.0)[2]
    for _ in range(6):
        label_font = max(small, min(LABEL_FONT_MAX, pitch * 24))
        row_axis = axis_labels(scene.text, tokens, pitch, label_font, rows=True)
        col_axis = axis_labels(scene.text, tokens, pitch, label_font, rows=False)
        cols, _, cell = fit(row_axis.depth, col_axis.depth)
        if cell >= pitch - 1e-9:
            break
        pitch = cell
    cell = min(cell, pitch)

    number_font = cell_number_font(scene, values, cell) if count <= max_text_cells else None
    side = count * cell
    used = row_axis.depth + cols * side + (cols - 1) * HEAD_GAP + bar_room
    x0 = -used / 2 + row_axis.depth  # the maps' left edge, the whole panel centred
    panel, maps = Group(), []
    for index, h in enumerate(heads):
        r, c = divmod(index, cols)
        rgb = scale.rgb(values[index], scene.colors)
        if number_font is not None:
            numbers = [[scene.number(values[index][i, j], f"attention[{h}]", i, j, number_font)
                        for j in range(count)] for i in range(count)]
            body = number_grid(numbers, rgb, cell, cell)
        else:
            body = heatmap_image(rgb, side, side)
        map_top = top - title_h - col_axis.depth - r * (side + title_h + HEAD_GAP)
        body.move_to([x0 + c * (side + HEAD_GAP) + side / 2, map_top - side / 2, 0])
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
    bar_left = x0 + cols * side + cols * HEAD_GAP
    bar.shift([bar_left - bar[0].get_left()[0], maps[0].get_top()[1] - bar[0].get_top()[1], 0])
    panel.add(bar)
    room = top - bottom
    if panel.height < room:  # small maps: centred in the room, not stuck under the caption
        panel.shift([0, -(room - panel.height) / 2, 0])
    return Group(panel, note(scene, row_axis, col_axis, kind, scale, note_font))


def bar_end_labels(scene, values: np.ndarray, heads: list[int], scale, font: float):
    """The bar's end labels for the (H, T, T) weights of `heads`: stage values recorded in their head's
    CSV rows, or a percentile of all of them (the attention CSV stacks heads: head h's row i is h*T + i)."""
    count = values.shape[1]

    def cell(h, i, j):
        return f"attention[{heads[h]}]", int(i), int(j)

    block = ("attention", [h * count + i for h in heads for i in range(count)], range(count))
    return scene.scale_ends(values, scale, cell, block, font)


def cell_number_font(scene, values: np.ndarray, cell: float) -> float | None:
    """The font size for numbers in cells of side `cell`: as large as fits (up to NUMBER_FONT_MAX), or
    None where even the smallest legible one would not fit (the maps are colour-only then)."""
    texts = {fmt(float(v), scene.precision) for v in values.ravel()}
    longest = max(len(t) for t in texts)
    probe_size = 10.0
    widest = max(scene.text(t, probe_size).width for t in sorted(texts) if len(t) >= longest - 1)
    font = min(NUMBER_FONT_MAX, probe_size * 0.82 * cell / widest, 0.5 * cell / digit_size()[0])
    return font if font >= min_font() else None


def note(scene, row_axis, col_axis, kind: str, scale, font: float) -> VGroup:
    """The line under the maps: what rows and columns are, what the labels leave out, what colour means."""
    parts = ["rows: queries", "columns: keys"] + label_notes(row_axis, col_axis, col_name="key")
    if kind != "probability":
        parts.append("colour: diverging around 0 (weights without softmax)")
    elif scale.clipped:
        parts.append(f"colour: 0 → the {ordinal(CLIP_PERCENTILES[1])} percentile of the weights shown "
                     "(above it: brightest)")
    else:
        parts.append("colour: 0 → the largest weight shown (top of the bar)")
    lines = VGroup(scene.text(" · ".join(parts), font, "#dddddd"))
    if lines[0].width > config.frame_width - 2 * MARGIN:  # two lines rather than a smaller font
        half = (len(parts) + 1) // 2
        lines = VGroup(*[scene.text(" · ".join(p), font, "#dddddd") for p in (parts[:half], parts[half:])])
        lines.arrange(DOWN, buff=0.08)
    return lines.to_edge(DOWN, buff=MARGIN)


def _copy(axis):
    """The same labels again, for the next row or column of maps."""
    return replace(axis, texts=axis.texts.copy())
