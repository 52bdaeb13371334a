"""The attention scale factor a config's `scale` option stands for (torch-free: the render reads it too)."""

import math


def scale_factor(scale, d_head: int) -> float:
    """`scale` from the config: "none", "1/sqrt(d_head)" or a number."""
    if scale == "none":
        return 1.0
    if scale == "1/sqrt(d_head)":
        return 1.0 / math.sqrt(d_head)
    return float(scale)
