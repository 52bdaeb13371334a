"""The palette of the video and of index.html, and colour scales: how a matrix's values become cell
colours, and what its colour bar says. Manim-free (numpy only), so the gallery job imports it cheaply.

One ColourScale per matrix (or per final frame, shared by its heads), so the cells and the bar always
agree. Probabilities run from 0 to the largest weight shown (a 300-token prompt's weights are all near
1/300: on a fixed 0-1 scale they would be one dark colour). Plain values (X, Q, K, V, weights) run
from their smallest to their largest, signed ones (scores) diverge around 0. Where a few outliers would
flatten everything else to one colour (a real model's hidden states; a long prompt's scores, whose few
largest would leave the rest near white; the first rows of a long causal prompt, whose weights are near 1)
the scale is clipped at the 1st and 99th percentiles (probabilities: at the 99th; 0 stays the floor),
and the bar says so.
"""

from dataclasses import dataclass

import numpy as np

SCHEMES = {
    # colour-blind safe: purple-white-orange (PuOr) for signed scores, viridis for probabilities
    "default": {"negative": "#5e3c99", "middle": "#f7f7f7", "positive": "#e66101",
                "low": ["#440154", "#21918c", "#fde725"], "masked": "#3a3a3a", "accent": "#fde725"},
    "grey": {"negative": "#000000", "middle": "#ffffff", "positive": "#000000",
             "low": ["#ffffff", "#808080", "#000000"], "masked": "#606060", "accent": "#ff8c00"},
}
GREY = ["#000000", "#ffffff"]
MAX_TEXT_CELLS = 12  # above this many rows or columns a matrix is coloured cells without numbers
CLIP_PERCENTILES = (1, 99)
OUTLIER_RANGE = 2.0  # clip when the full range is more than this many times the percentiles' range


@dataclass
class ColourScale:
    kind: str  # "probability" (0 to the largest), "signed" (diverging around 0), "plain" (low to high)
    lo: float  # the value at the bar's bottom
    hi: float  # the value at its top
    clipped: bool = False  # hi (and for plain values lo) are CLIP_PERCENTILES of the values, not extremes

    @classmethod
    def of(cls, values: np.ndarray, kind: str) -> "ColourScale":
        finite = np.asarray(values, dtype=float)[np.isfinite(values)]
        if finite.size == 0:
            return cls(kind, 0.0, 0.0)
        lo, hi = float(finite.min()), float(finite.max())
        p_lo, p_hi = (float(p) for p in np.percentile(finite, CLIP_PERCENTILES))
        if kind == "probability":
            if p_hi > 0 and hi > OUTLIER_RANGE * p_hi:
                return cls(kind, 0.0, p_hi, clipped=True)
            return cls(kind, 0.0, hi)
        if kind in ("plain", "signed") and p_hi > p_lo and hi - lo > OUTLIER_RANGE * (p_hi - p_lo):
            return cls(kind, p_lo, p_hi, clipped=True)
        return cls(kind, lo, hi)

    def rgb(self, values: np.ndarray, scheme: dict) -> np.ndarray:
        """RGB (…, 3) per value; masked (non-finite) values in the scheme's masked grey."""
        values = np.asarray(values, dtype=float)
        finite = np.isfinite(values)
        v = np.where(finite, values, 0.0)
        if self.kind == "probability":
            rgb = ramp(scheme["low"], v / self.hi if self.hi > 0 else v * 0)
        elif self.kind == "signed":
            top = max(abs(self.lo), abs(self.hi), 1e-12)
            t = v / top
            rgb = np.where(t[..., None] < 0, ramp([scheme["middle"], scheme["negative"]], -t),
                           ramp([scheme["middle"], scheme["positive"]], t))
        else:
            rgb = ramp(GREY, (v - self.lo) / (self.hi - self.lo) if self.hi > self.lo else v * 0)
        rgb[~finite] = hex_to_rgb(scheme["masked"])
        return rgb

    def ramp_values(self, steps: int = 64) -> np.ndarray:
        """The bar's values, top (hi) to bottom (lo)."""
        return np.linspace(self.hi, self.lo, steps)



def weights_kind(softmax: bool) -> str:
    """How attention weights are coloured, in the video and on the pages: probabilities from 0 (softmax),
    else the signed scaled scores diverging around 0."""
    return "probability" if softmax else "signed"


def weights_meaning(scale: ColourScale) -> str:
    """What a colour bar of attention weights means, in the still's note and the pages' legend alike."""
    if scale.kind != "probability":
        return "diverging around 0 (weights without softmax)"
    if scale.clipped:
        return f"clipped: the top is the {CLIP_PERCENTILES[1]}th percentile of the weights shown (above it: brightest)"
    return "the top is the largest weight shown"

def hex_to_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def ramp(stops: list[str], t: np.ndarray) -> np.ndarray:
    """Colours (…, 3) for t in [0, 1] along evenly spaced colour stops."""
    rgb = np.stack([hex_to_rgb(s) for s in stops])
    pos = np.nan_to_num(np.clip(t, 0, 1), nan=0.0) * (len(stops) - 1)  # NaN: the first colour, never an IndexError
    lo = np.minimum(pos.astype(int), len(stops) - 2)
    frac = (pos - lo)[..., None]
    return rgb[lo] * (1 - frac) + rgb[lo + 1] * frac


def rgb_hex(rgb) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in np.clip(rgb, 0, 255))


def text_colour_on(rgb) -> str:
    """Black on light cells, white on dark ones: the cell's Rec. 601 luma (W3C's colour brightness) cut
    at 140 of 255. The one rule for the video's cells and the page's."""
    return "#000000" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 else "#ffffff"
