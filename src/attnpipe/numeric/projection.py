"""Projections, in the notebook's convention: y = x @ M + b, i.e. nn.Linear with weight M.T.

M has shape (d_model, d_out), so row i of y mixes row i of x by M's columns.
"""

import torch


def project(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """(T, d_model) @ (d_model, d_out) [+ (d_out,)] -> (T, d_out)."""
    y = x @ w
    return y if b is None else y + b
