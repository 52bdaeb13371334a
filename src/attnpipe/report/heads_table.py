"""results/heads.csv: what every head does, one row per (weight setting, prompt, head), read from attend.pt.

  weights, prompt, head  the combination and the query head (0-based, as the CSVs' h<i>/ rows)
  model, layer           the model and layer a model's setting reads (empty for a toy setting)
  kv_head                the K/V head the query head reads: attend.pt's kv_heads field (else itself)
  entropy                mean over queries of the row's entropy -Σ p·ln p (nats); empty unless the weights
                         are probabilities (softmax: false)
  max_weight             the largest weight
  first_token, self      mean over queries of the weight on key 0, and on the query's own position
  previous_token         mean over queries 1..T-1 of the weight on the position before (empty for 1 token)
  mean_distance          mean over queries i of Σ_j p_ij·(i - j): how far back a query looks (negative: ahead)
  pattern                the dominant one (PATTERNS), by the thresholds below; empty without softmax

Numpy only: the summary job reads the stage files with attnpipe.store.torchfile and never imports torch.
"""

import numpy as np
import pandas as pd

from ..store.atomicfile import atomic_path
from ..store.spreadsheet import neutralise, restore
from .summary import is_distribution, row_entropy

COLUMNS = ["weights", "prompt", "head", "model", "layer", "kv_head", "entropy", "max_weight", "first_token", "self",
           "previous_token", "mean_distance", "pattern"]
PATTERNS = {"first_token": "first-token", "self": "self", "previous_token": "previous-token"}  # in tie order
DOMINANT_SHARE = 0.5  # a share above this: most of the attention goes there
BROAD_ENTROPY = 0.75  # mean row entropy at least this fraction of a uniform row's (over the keys it may see)


def pattern(shares: dict, entropy: float, uniform_fraction: float) -> str:
    """The largest of the first-token, self and previous-token shares if above DOMINANT_SHARE (ties in
    that order); else broad if the rows' entropy is at least BROAD_ENTROPY of a uniform row's; else ''."""
    if np.isnan(entropy):
        return ""
    name, share = max(((n, shares[n]) for n in PATTERNS if not np.isnan(shares[n])), key=lambda item: item[1])
    if share > DOMINANT_SHARE:
        return PATTERNS[name]
    return "broad" if uniform_fraction >= BROAD_ENTROPY else ""


def head_rows(weights: str, prompt: str, attend: dict, model: dict | None) -> list[dict]:
    """heads.csv's rows for one combination's attend.pt (torchfile.load's dict: numpy tensors). `model`:
    {"model", "layer"} of a model's setting, else None."""
    attention = attend["attention"]
    values = attention["tensor"]  # (H, T, T)
    count = values.shape[1]
    distribution = is_distribution(values)
    # keys a query may see: those the mask left finite in scaled_scores (causal mask, sliding window)
    visible = np.isfinite(attend["scaled_scores"]["tensor"]).sum(-1)  # (H, T)
    positions = np.arange(count)
    rows = []
    for h, kv in enumerate(attention["kv_heads"]):
        p = values[h]
        entropy = row_entropy(p) if distribution else None
        shares = {
            "first_token": float(p[:, 0].mean()),
            "self": float(np.diagonal(p).mean()),
            "previous_token": float(np.diagonal(p, -1).mean()) if count > 1 else float("nan"),
        }
        choosing = visible[h] > 1
        uniform_fraction = float((entropy[choosing] / np.log(visible[h][choosing])).mean()) if (
            distribution and choosing.any()) else 0.0
        mean_entropy = float(entropy.mean()) if distribution else float("nan")
        rows.append({
            "weights": weights, "prompt": prompt, "head": h,
            "model": model["model"] if model else "", "layer": model["layer"] if model else "",
            "kv_head": kv,
            "entropy": mean_entropy,
            "max_weight": float(p.max()),
            **shares,
            "mean_distance": float((p * (positions[:, None] - positions[None, :])).sum(-1).mean()),
            "pattern": pattern(shares, mean_entropy, uniform_fraction),
        })
    return rows


def write_heads(frame: pd.DataFrame, csv_path) -> None:
    """heads.csv: floats exactly (repr), NaN as an empty cell, names a spreadsheet would run quoted."""
    with atomic_path(csv_path) as tmp:
        frame.map(neutralise).to_csv(tmp, index=False)


def read_heads(csv_path) -> pd.DataFrame:
    """heads.csv with names as text ('' for a toy setting's model), numbers as numbers (empty: NaN) and the
    layer as a whole number (empty for a toy setting: <NA>)."""
    text = ["weights", "prompt", "model", "pattern"]
    frame = pd.read_csv(csv_path, dtype=dict.fromkeys(text, str), keep_default_na=False,
                        na_values={c: [""] for c in COLUMNS if c not in text})
    return frame.assign(**{c: frame[c].map(restore) for c in text}, layer=frame["layer"].astype("Int64"))
