"""What a model's weight CSV holds (README: "CSV"). The .pt always holds the whole matrix.

A weight of at most CSV_MAX_VALUES numbers (a toy setting's biggest tensor; MiniLM's 384 x 384 W_q) has a CSV of
the whole matrix. A bigger one (Llama-3-8B's 4096 x 4096 W_q: 278 MB of text, 25 s to write; 4.4 GB at
Llama-3.1-405B's width) has a CSV of the column blocks of the heads the video walks through (the setting's render
detail heads; in W_k and W_v the K/V heads those read), every row: 4096 x 128 numbers per head, 9 MB, 0.2 s in
pandas. Its columns keep their labels (d512 … d639 for head 4), so a CSV value is found in the .pt by label.
Biases (one row) are always whole.
"""

from ..limits import MAX_VALUES
from ..numeric.attention import kv_head_of

CSV_MAX_VALUES = MAX_VALUES  # 1,048,576 numbers


def heads_read(role: str, detail_heads: list[int], heads: int, kv_heads: int) -> list[int]:
    """The blocks of W_<role> the detail heads use: query heads for W_q, the K/V heads they read for W_k, W_v."""
    if role == "query":
        return sorted(set(detail_heads))
    return sorted({kv_head_of(h, heads, kv_heads) for h in detail_heads})


def csv_columns(shape: tuple[int, int], head_dim: int, blocks: list[int]) -> list[int] | None:
    """The columns of a (d_model, d_out) weight its CSV holds: None (all) up to CSV_MAX_VALUES numbers, else
    the head_dim columns of each block."""
    if shape[0] * shape[1] <= CSV_MAX_VALUES:
        return None
    return [j for block in blocks for j in range(block * head_dim, (block + 1) * head_dim)]
