"""What one video shows, read from the stage files of one combination: never recomputed here."""

from dataclasses import dataclass

import numpy as np

from ..look.colours import weights_kind
from ..look.numbers import fmt
from ..numeric.scaling import scale_factor
from ..numeric.tokens import token_of
from ..store.torchfile import load as read_stage  # the stage files, without importing torch


@dataclass
class Story:
    prompt: str  # prompt id
    text: str  # prompt text
    weights: str  # weight-setting name
    tokens: list[str]  # row labels "0:the", ...
    options: dict  # the attend settings: scale, causal, softmax, heads
    x: np.ndarray  # (T, d_model)
    w: dict  # role -> (d_model, d_out)
    b: dict  # role -> (d_out,)
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scores: np.ndarray  # (h, T, T)
    scaled: np.ndarray  # (h, T, T)
    scale_factor: float  # what attend multiplied the scores by (before the causal mask)
    attn: np.ndarray  # (h, T, T) attention weights
    output: np.ndarray  # (T, d_v)
    show_heads: list[int]  # the heads shown (0-based): together, side by side, in the result
    detail_heads: list[int]  # those walked through step by step
    unknown: set[str]  # tokens that had no vocab entry (a seeded random vector instead)
    hidden_states_from: str  # "vocab" (a lookup per token), or the file (or "the config") X was read from
    kv_of: list[int]  # query head -> the K/V head it reads (grouped-query attention; else itself)
    # Rotary models (Llama family): Q and K rotated per position (rotate.pt), which the scores use, and the
    # cos and sin (T, d_head) the model's attention layers received (forward.pt); None elsewhere.
    q_rot: np.ndarray | None = None
    k_rot: np.ndarray | None = None
    rope_cos: np.ndarray | None = None
    rope_sin: np.ndarray | None = None
    # The columns of W_q its CSV holds where it holds fewer than all (a big model's weight: the detail heads',
    # attnpipe.look.weightcsv): the projection's written-out entry is taken among them, so it can be found there.
    q_columns: list[int] | None = None

    @property
    def heads(self) -> int:
        return self.scores.shape[0]

    @property
    def d_head(self) -> int:
        return self.q.shape[1] // self.heads

    @property
    def kv_heads(self) -> int:
        return max(self.kv_of) + 1

    @property
    def grouped(self) -> bool:
        """Grouped-query attention: fewer K/V heads than query heads."""
        return self.kv_heads < self.heads

    @property
    def rotary(self) -> bool:
        return self.q_rot is not None

    @property
    def scored(self) -> tuple[tuple[str, np.ndarray], tuple[str, np.ndarray]]:
        """((source, Q), (source, K)) that the scores are computed from: rotated where the model rotates."""
        if self.rotary:
            return ("queries_rotated", self.q_rot), ("keys_rotated", self.k_rot)
        return ("queries", self.q), ("keys", self.k)

    @property
    def weights_kind(self) -> str:
        """How the attention weights are coloured: probabilities, or (softmax: false) signed scaled scores."""
        return weights_kind(self.options["softmax"])

    def lookups(self) -> list[tuple[str, int]]:
        """(token, first position) per distinct token, in order: the vocab rows this prompt uses.
        Their vectors are rows of X (a stage tensor), so the table shown is X's own numbers."""
        first: dict[str, int] = {}
        for pos, label in enumerate(self.tokens):
            first.setdefault(token_of(label), pos)
        return list(first.items())

    def head_columns(self, matrix: np.ndarray, head: int) -> np.ndarray:
        width = matrix.shape[1] // self.heads
        return matrix[:, head * width:(head + 1) * width]

    def kv_columns(self, matrix: np.ndarray, head: int) -> tuple[np.ndarray, int]:
        """The block of K or V (one per K/V head) that query `head` reads, and its first column."""
        width = matrix.shape[1] // self.kv_heads
        start = self.kv_of[head] * width
        return matrix[:, start:start + width], start

    def scale_label(self) -> str | None:
        """'× 1/√2' style label for the scaling step (1/√d_head when the factor is that number, else the
        factor itself), or None when scores are not scaled."""
        if self.scale_factor == 1.0:
            return None
        if self.scale_factor == scale_factor("1/sqrt(d_head)", self.d_head):
            return f"× 1/√{self.d_head}"
        return f"× {self.scale_factor:.6g}"


def read_story(paths: dict, settings: dict) -> Story:
    """`paths`: embed, weights, project, attend -> the stage .pt files of this combination;
    `settings`: the render rule's params (Sweep.render_settings): names, options, heads to show,
    where X came from. Every number comes from the stage files. A rotary model's combination adds
    rotate (its rotated queries and keys) and forward (the model's pass: cos and sin)."""
    embed = read_stage(paths["embed"])["hidden_states"]
    wts = read_stage(paths["weights"])
    proj = read_stage(paths["project"])
    att = read_stage(paths["attend"])
    rotary = {}
    if "rotate" in paths:
        rotated, rope = read_stage(paths["rotate"]), read_stage(paths["forward"])
        rotary = {"q_rot": rotated["queries_rotated"]["tensor"], "k_rot": rotated["keys_rotated"]["tensor"],
                  "rope_cos": rope["rope_cos"]["tensor"], "rope_sin": rope["rope_sin"]["tensor"]}

    def arr(rec):
        return rec["tensor"]

    roles = ("query", "key", "value")
    return Story(
        prompt=settings["prompt"], text=settings["text"], weights=settings["weights"], tokens=embed["row_labels"],
        options=settings["attention"],
        x=arr(embed),
        w={r: arr(wts[f"w_{r}"]) for r in roles},
        b={r: arr(wts[f"b_{r}"])[0] for r in roles},
        q=arr(proj["queries"]), k=arr(proj["keys"]), v=arr(proj["values"]),
        scores=arr(att["scores"]), scaled=arr(att["scaled_scores"]), attn=arr(att["attention"]),
        scale_factor=float(arr(att["scale_factor"])[0, 0]),
        output=arr(att["output"]),
        show_heads=list(settings["show_heads"]),
        detail_heads=list(settings["detail_heads"]),  # attnpipe.look.heads chose them
        unknown=set(settings["unknown_tokens"]),
        hidden_states_from=settings["hidden_states_from"], kv_of=list(att["attention"]["kv_heads"]), **rotary,
        q_columns=wts["w_query"].get("csv_columns"),
    )



def rotated_pair(q_block: np.ndarray, sin: np.ndarray, precision: int = 2) -> tuple[int, int]:
    """(position i, dimension k < d_head/2) of one rotated pair worth writing out: rotate_half turns
    dimensions k and k + d_head/2 together. Inputs that do not show as 0 first, then the largest |sin|
    (a visible turn: position 0 does not turn at all)."""
    half = sin.shape[1] // 2
    shows_zero = np.vectorize(lambda v: fmt(float(v), precision) == "0")(q_block)
    hidden = shows_zero[:, :half] | shows_zero[:, half:]
    order = np.lexsort((-np.abs(sin[:, :half]).ravel(), hidden.ravel()))
    return tuple(int(i) for i in np.unravel_index(order[0], hidden.shape))


def interesting_cell(a: np.ndarray, b: np.ndarray, product: np.ndarray, precision: int = 2) -> tuple[int, int]:
    """The (i, j) of `product` = a @ b (a stage file) worth writing out: one whose value does not show as 0
    (a sum of terms that cancel teaches less), then the most non-zero terms (unlike the notebook's
    all-but-one-zero q[0,0]), then the largest |value|."""
    # non-zero terms per cell, as a product of 0/1 matrices: no T x d x d array (5 GB for a d-4096 model's W_q)
    count = (a != 0).astype(np.float32) @ (b != 0).astype(np.float32)
    shows_zero = np.vectorize(lambda v: fmt(float(v), precision) == "0")(product)
    order = np.lexsort((-np.abs(product).ravel(), -count.ravel(), shows_zero.ravel()))
    return tuple(int(i) for i in np.unravel_index(order[0], count.shape))
