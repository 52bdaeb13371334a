"""The sweep at a glance: one row per prompt x weight setting, every number read from its stage files.

Statistics over the saved tensors (never recomputed from the config):
  max_score, min_score  largest and smallest raw score Q·Kᵀ over every head and cell (before scaling
                        and the causal mask)
  mean_entropy          mean over heads and query rows of the attention row's entropy -Σ p·ln p (nats);
                        empty when the weights are not probabilities (softmax: false)
  most_attended         per head, each query token's key with the largest weight (the first on a tie):
                        "0:the→1:cat; 1:cat→1:cat", heads as "h0: …; … | h1: …"
Stage files are read with attnpipe.store.torchfile (numpy, no torch: the job never imports it).
Paths are relative to the summary's own folder (results/), like the links of results/index.html.
Text that a spreadsheet would run as a formula (starting with = + - @, tab or CR) is written with a
leading ' (OWASP's CSV-injection advice); read_summary takes it off again.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from ..store.atomicfile import atomic_path
from ..store.layout import COMBINATION_CSVS, STILL, VIDEO, combination_file, csv_file, link
from ..store.spreadsheet import neutralise, restore
from ..store.torchfile import load as read_stage
from .templates import render

COLUMNS = [
    "prompt", "text", "weights", "n_tokens", "d_model", "heads", "scale", "causal", "softmax",
    "max_score", "min_score", "mean_entropy", "most_attended", "video", "still",
    *(f"{name}_csv" for name in COMBINATION_CSVS),
]
PROBABILITY_TOLERANCE = 1e-9


def read_summary(csv_path) -> pd.DataFrame:
    """summary.csv with every column as text, as written ("012" stays "012", an empty entropy stays "")."""
    return pd.read_csv(csv_path, dtype=str, keep_default_na=False).map(restore)


def is_distribution(weights: np.ndarray) -> bool:
    """Every row of (..., T, T) weights is non-negative and sums to 1 (as torch.allclose: rtol 1e-5, so a
    model's float32 softmax counts)."""
    sums = weights.sum(-1)
    return bool((weights >= 0).all() and np.allclose(sums, np.ones_like(sums), atol=PROBABILITY_TOLERANCE))


def row_entropy(weights: np.ndarray) -> np.ndarray:
    """-Σ p·ln p of each row (0·ln 0 = 0)."""
    return -(weights * np.log(np.where(weights > 0, weights, 1.0))).sum(-1)


def mean_row_entropy(weights: np.ndarray) -> float:
    """Mean entropy (nats) of the rows of (heads, T, T) attention weights; NaN unless every row is a distribution."""
    return float(row_entropy(weights).mean()) if is_distribution(weights) else float("nan")


def most_attended(weights: np.ndarray, row_labels: list[str], column_labels: list[str]) -> str:
    """'query→key' per row (argmax, first on ties); heads prefixed 'h<i>: ' and joined by ' | ' when more than one."""
    per_head = [
        "; ".join(f"{row_labels[i]}→{column_labels[j]}" for i, j in enumerate(head.argmax(-1).tolist()))
        for head in weights
    ]
    if len(per_head) == 1:
        return per_head[0]
    return " | ".join(f"h{h}: {text}" for h, text in enumerate(per_head))


def combination_row(prompt: str, text: str, weights: str, options: dict, embed_pt, hidden: dict, attend: dict,
                    root) -> dict:
    """One summary row from a combination's hidden states (embed.pt's record) and attend.pt (as read); its
    links (the combination's files, attnpipe.store.layout) relative to `root`."""
    scores, attention = attend["scores"]["tensor"], attend["attention"]

    def rel(path) -> str:
        return link(path, root)

    return {
        "prompt": prompt,
        "text": text,
        "weights": weights,
        "n_tokens": len(attention["row_labels"]),
        "d_model": hidden["tensor"].shape[1],
        "heads": attention["tensor"].shape[0],
        "scale": options["scale"],
        "causal": options["causal"],
        "softmax": options["softmax"],
        "max_score": float(scores.max()),
        "min_score": float(scores.min()),
        "mean_entropy": mean_row_entropy(attention["tensor"]),
        "most_attended": most_attended(attention["tensor"], attention["row_labels"], attention["column_labels"]),
        "video": rel(combination_file(weights, prompt, VIDEO)),
        "still": rel(combination_file(weights, prompt, STILL)),
        # X is the prompt's (results/embeddings/) or, for a model's layer, the combination's own
        "hidden_states_csv": rel(csv_file(Path(embed_pt).parent.as_posix(), "hidden_states")),
        **{f"{name}_csv": rel(combination_file(weights, prompt, f"{name}.csv")) for name in COMBINATION_CSVS[1:]},
    }


def summary_rows(settings: dict, embed_pts: list, attend_pts: list, root):
    """(weights, prompt, attend.pt as read, summary row) per combination, each attend.pt read once and let go
    (a model's long prompt is tens of MB a layer). settings = {"combinations": [[weights, prompt], ...],
    "prompts": {id: text}, "weights": {name: attention options}}; embed_pts and attend_pts: each
    combination's embed.pt (its prompt's, or its own for a model's layer) and attend.pt, in that order."""
    hidden = {path: read_stage(path)["hidden_states"] for path in dict.fromkeys(embed_pts)}  # once each
    for (weights, prompt), embed_pt, attend_pt in zip(settings["combinations"], embed_pts, attend_pts, strict=True):
        attend = read_stage(attend_pt)
        yield weights, prompt, attend, combination_row(prompt, settings["prompts"][prompt], weights,
                                                       settings["weights"][weights], embed_pt, hidden[embed_pt],
                                                       attend, root)


def build_summary(settings: dict, embed_pts: list, attend_pts: list, root) -> pd.DataFrame:
    return pd.DataFrame([row for *_, row in summary_rows(settings, embed_pts, attend_pts, root)], columns=COLUMNS)


def write_summary(frame: pd.DataFrame, csv_path, html_path) -> None:
    """summary.csv (floats round-trip exactly) and the same table as a plain HTML page (for the report)."""
    with atomic_path(csv_path) as tmp:
        frame.map(neutralise).to_csv(tmp, index=False)
    with atomic_path(html_path) as tmp:
        Path(tmp).write_text(summary_html(frame), encoding="utf-8")


def summary_html(frame: pd.DataFrame) -> str:
    """The table as a page (templates/summary.html.j2), each value as summary.csv writes it (NaN empty)."""
    cells = frame.astype(object).where(frame.notna(), "")
    return render("summary.html.j2", columns=list(frame.columns),
                  rows=[[str(value) for value in row] for row in cells.itertuples(index=False)])
