"""What one video shows, read from the stage files of one combination: never recomputed here."""

from dataclasses import dataclass

import numpy as np

from ..scaling import scale_factor
from ..tokens import token_of
from ..torchfile import load as read_stage  # the stage files, without importing torch
from .numbers import fmt


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
    show_heads: list[int]  # the heads to walk through (0-based)
    unknown: set[str]  # tokens that had no vocab entry (a seeded random vector instead)
    hidden_states_from: str  # "vocab" (a lookup per token), or the file (or "the config") X was read from

    @property
    def heads(self) -> int:
        return self.scores.shape[0]

    @property
    def d_head(self) -> int:
        return self.q.shape[1] // self.heads

    @property
    def weights_kind(self) -> str:
        """How the attention weights are coloured: probabilities, or (softmax: false) signed scaled scores."""
        return "probability" if self.options["softmax"] else "signed"

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
    where X came from. Every number comes from the stage files."""
    embed = read_stage(paths["embed"])["hidden_states"]
    wts = read_stage(paths["weights"])
    proj = read_stage(paths["project"])
    att = read_stage(paths["attend"])

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
        show_heads=list(settings["show_heads"]), unknown=set(settings["unknown_tokens"]),
        hidden_states_from=settings["hidden_states_from"],
    )


def interesting_cell(a: np.ndarray, b: np.ndarray, product: np.ndarray, precision: int = 2) -> tuple[int, int]:
    """The (i, j) of `product` = a @ b (a stage file) worth writing out: one whose value does not show as 0
    (a sum of terms that cancel teaches less), then the most non-zero terms (unlike the notebook's
    all-but-one-zero q[0,0]), then the largest |value|."""
    count = ((a[:, :, None] != 0) & (b[None, :, :] != 0)).sum(axis=1)  # non-zero terms per cell
    shows_zero = np.vectorize(lambda v: fmt(float(v), precision) == "0")(product)
    order = np.lexsort((-np.abs(product).ravel(), -count.ravel(), shows_zero.ravel()))
    return tuple(int(i) for i in np.unravel_index(order[0], count.shape))
