"""Projections, in the notebook's convention: y = x @ M + b, i.e. nn.Linear with weight M.T.

M has shape (d_model, d_out), so row i of y mixes row i of x by M's columns.
"""

import torch

COLUMN_BLOCK = 1024  # columns of W made float64 at a time: a 16384-wide float32 W_q is 1 GB, 2 GB in float64


def project(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """(T, d_model) @ (d_model, d_out) [+ (d_out,)] -> (T, d_out), in x's dtype (float64): a model's float32
    W and b are made float64 (exactly) a block of columns at a time."""
    y = torch.cat([x @ w[:, j:j + COLUMN_BLOCK].to(x.dtype) for j in range(0, w.shape[1], COLUMN_BLOCK)], dim=1)
    return y if b is None else y + b.to(x.dtype)
