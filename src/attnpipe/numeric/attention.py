"""Attention over projected Q, K, V, readable on one screen; every intermediate is returned.
Shapes: T tokens, d_k query/key width, d_v value width, h heads."""

import torch

from .scaling import scale_factor


def attend(q, k, v, *, heads: int, scale, causal: bool, softmax: bool, kv_heads: int | None = None,
           window: int | None = None):
    """Multi-head attention over Q, K, V (T, d_k), (T, d_k), (T, d_v), with a weight setting's attention
    options (no defaults here: a setting's come from the config schema, attnpipe.config).

    Head i uses columns i*d_head ... (i+1)*d_head-1 of each projection (as BERT and GPT-2 do). With
    grouped-query attention (kv_heads < heads; K and V then have kv_heads blocks) query head i reads
    K/V head kv_head_of(i, heads, kv_heads), as Llama's repeat_kv does. With a sliding `window` (Mistral)
    a query also cannot see keys `window` or more positions back, as transformers' sliding_window_overlay.
    Returns a dict of (h, T, T) scores / scaled_scores / weights, the merged (T, d_v) output, the
    scale_factor (a float) that turned scores into scaled_scores, and `hidden`: the (T, T) keys each query
    cannot see (masked to -inf in scaled_scores).
    With softmax off the weights are the scaled scores, masked cells set to 0 (they add nothing).
    """
    T, d_k = q.shape
    kv_heads = kv_heads or heads
    d_head, d_v = d_k // heads, v.shape[1] // kv_heads * heads
    qh = q.view(T, heads, d_head).transpose(0, 1)  # (h, T, d_head)
    groups = torch.tensor([kv_head_of(i, heads, kv_heads) for i in range(heads)])
    kh = k.view(T, kv_heads, d_head).transpose(0, 1)[groups]  # (h, T, d_head)
    vh = v.view(T, kv_heads, d_v // heads).transpose(0, 1)[groups]  # (h, T, d_v/h)

    scores = qh @ kh.transpose(-2, -1)  # (h, T, T): raw Q·Kᵀ
    factor = scale_factor(scale, d_head)
    scaled = scores * factor
    hidden = torch.zeros(T, T, dtype=torch.bool)
    if causal:  # query i sees keys 0..i only
        hidden |= torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
    if window is not None:  # ... and of those only the last `window`: i - j < window
        hidden |= torch.ones(T, T, dtype=torch.bool).tril(diagonal=-window)
    scaled = scaled.masked_fill(hidden, float("-inf"))
    weights = torch.softmax(scaled, dim=-1) if softmax else scaled.masked_fill(hidden, 0.0)
    per_head = weights @ vh  # (h, T, d_v/h)
    output = per_head.transpose(0, 1).reshape(T, d_v)  # heads side by side
    return {"scores": scores, "scaled_scores": scaled, "weights": weights, "output": output, "scale_factor": factor,
            "hidden": hidden}


def kv_head_of(head: int, heads: int, kv_heads: int) -> int:
    """The K/V head query head `head` reads: consecutive query heads share one (Llama's repeat_kv)."""
    return head // (heads // kv_heads)
