"""Building blocks: the result's grid of numbers and colour-only heatmap (result.py), and a colour bar with its
end labels (result.py and matrix_view.py)."""

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Group, ImageMobject, Rectangle, VGroup
from manim.constants import RESAMPLING_ALGORITHMS

from ..look.colours import CLIP_PERCENTILES, ColourScale, rgb_hex, text_colour_on
from .glyphs import clone
from .labels import ordinal

BAR_LABEL_BUFF = 0.08


def heatmap_image(rgb: np.ndarray, width: float, height: float) -> ImageMobject:
    """One pixel per cell, drawn with nearest-neighbour scaling: crisp cells at any size."""
    rgba = np.concatenate([np.clip(rgb, 0, 255), np.full(rgb.shape[:2] + (1,), 255.0)], axis=-1)
    image = ImageMobject(rgba.astype(np.uint8))
    image.set_resampling_algorithm(RESAMPLING_ALGORITHMS["nearest"])
    return image.stretch_to_fit_width(width).stretch_to_fit_height(height)


def number_grid(numbers: list[list], rgb: np.ndarray | None, cell_width: float, cell_height: float) -> VGroup:
    """Boxes of cell_width x cell_height, each holding its number (a Text, recoloured for contrast on a
    filled cell); returns the rows (VGroups of VGroup(box, number))."""
    template = Rectangle(width=cell_width, height=cell_height, stroke_width=0.5, stroke_color="#555555")
    rows = VGroup()
    for i, line in enumerate(numbers):
        row = VGroup()
        for j, number in enumerate(line):
            box = clone(template)  # building a Rectangle per cell was a tenth of a render
            box.move_to([j * cell_width, -i * cell_height, 0])
            if rgb is not None:
                box.set_fill(rgb_hex(rgb[i, j]), opacity=1.0)
                number.set_color(text_colour_on(rgb[i, j]))
            row.add(VGroup(box, number.move_to(box)))
        rows.add(row)
    return rows


def colour_bar(scale: ColourScale, scheme: dict, height: float, width: float, top, bottom,
               masked_label=None) -> Group:
    """A vertical bar of `scale`'s colours, hi at the top; `top` and `bottom` (labels of its ends) sit to
    its right, level with its ends, so they never reach over the matrix's column labels. With
    `masked_label`, a swatch of the masked colour and that label go under it."""
    rgb = scale.rgb(scale.ramp_values()[:, None], scheme)
    bar = heatmap_image(rgb, width, height)
    top.next_to(bar, RIGHT, buff=BAR_LABEL_BUFF).align_to(bar, UP)
    bottom.next_to(bar, RIGHT, buff=BAR_LABEL_BUFF).align_to(bar, DOWN)
    out = Group(bar, top, bottom)
    if masked_label is not None:
        swatch = Rectangle(width=width, height=width, stroke_width=0).set_fill(scheme["masked"], opacity=1)
        swatch.next_to(bar, DOWN, buff=0.12)
        out.add(swatch, masked_label.next_to(swatch, RIGHT, buff=BAR_LABEL_BUFF))
    return out


def end_label(number, tag=None) -> VGroup:
    """A bar end's label: the number, and under it what it is where that is not plain (e.g. '99th pct')."""
    return VGroup(number) if tag is None else VGroup(number, tag).arrange(DOWN, aligned_edge=LEFT, buff=0.06)


def scale_ends(scene, values: np.ndarray, scale: ColourScale, cell, block, size: float, small: float):
    """The labels of a colour bar's ends (top, bottom), recorded as shown. An extreme is a stage value,
    recorded where it is: `cell(*index)` -> (source, i, j); a clipped end is a percentile of the block of
    the stage tensor shown, `block` = (source, row ids, column ids), recorded as derived from it and
    tagged on the bar; a probability scale starts at 0, its floor."""
    finite = np.where(np.isfinite(values), values, np.nan)

    def extreme(index):
        where = np.unravel_index(index, values.shape)
        return end_label(scene.number(values[tuple(where)], *cell(*where), size))

    def percentile(value, which):
        p = CLIP_PERCENTILES[which]
        tag = scene.text(f"{ordinal(p)} percentile", max(small, 12), "#bbbbbb")
        return end_label(scene.derived(value, f"p{p}", *block, size), tag)

    top = percentile(scale.hi, 1) if scale.clipped else extreme(np.nanargmax(finite))
    if scale.kind == "probability":
        bottom = end_label(scene.text("0", size))
    else:
        bottom = percentile(scale.lo, 0) if scale.clipped else extreme(np.nanargmin(finite))
    return top, bottom
