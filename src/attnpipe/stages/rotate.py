"""Rule `rotate`: queries and keys -> rotated by position (rotary position embedding, Llama family).

Per head (head_dim columns of Q, and of K per K/V head), as transformers' apply_rotary_pos_emb:
    x_rot = x * cos + rotate_half(x) * sin,   rotate_half([x1, x2]) = [-x2, x1]  (halves of head_dim)
with cos and sin (T, head_dim) from the model's own forward pass (forward.pt). Attention scores are
Q_rot · K_rotᵀ; V is not rotated.
"""

import torch

from ..stagefiles import read_stage, record, write_log, write_stage


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """(T, n * head_dim), every head_dim block rotated by cos/sin (T, head_dim)."""
    T, width = x.shape
    d_head = cos.shape[1]
    blocks = x.view(T, width // d_head, d_head)
    half = d_head // 2
    rotated_half = torch.cat((-blocks[..., half:], blocks[..., :half]), dim=-1)
    return (blocks * cos[:, None, :] + rotated_half * sin[:, None, :]).reshape(T, width)


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    qkv = read_stage(inputs["project"])
    rope = read_stage(inputs["forward"])
    cos, sin = rope["rope_cos"]["tensor"], rope["rope_sin"]["tensor"]
    records = {}
    for name in ("queries", "keys"):
        rec = qkv[name]
        records[f"{name}_rotated"] = record(rotate(rec["tensor"], cos, sin), rec["row_labels"], rec["column_labels"])
    write_stage(records, outputs)
    write_log(log, *(f"{name} {tuple(r['tensor'].shape)}" for name, r in records.items()))
