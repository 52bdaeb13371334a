"""Rotary position embedding (Llama family), as transformers' apply_rotary_pos_emb, per head:

    x_rot = x * cos + rotate_half(x) * sin,   rotate_half([x1, x2]) = [-x2, x1]  (halves of head_dim)

with cos and sin (T, head_dim) as the model's attention layers receive them. Scores are Q_rot · K_rotᵀ;
V is not rotated.
"""

import torch


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """(T, n * head_dim), every head_dim block rotated by cos/sin (T, head_dim)."""
    T, width = x.shape
    d_head = cos.shape[1]
    blocks = x.view(T, width // d_head, d_head)  # (T, n, head_dim)
    half = d_head // 2
    rotated_half = torch.cat((-blocks[..., half:], blocks[..., :half]), dim=-1)
    return (blocks * cos[:, None, :] + rotated_half * sin[:, None, :]).reshape(T, width)
