"""Embedding lookup: each token fetches its row of the vocab table into the hidden states X."""

import hashlib

import numpy as np


def fallback_vector(token: str, seed: int, dim: int) -> np.ndarray:
    """A seeded standard-normal vector for a token missing from the vocab.

    It depends on (seed, token) only, so a word gets the same vector in every prompt and run.
    """
    digest = hashlib.sha256(token.encode("utf-8")).digest()
    words = np.frombuffer(digest, dtype="<u4").tolist()
    return np.random.default_rng([seed, *words]).standard_normal(dim)


def lookup(tokens: list[str], vectors: dict[str, list[float]], fallback: dict | None) -> np.ndarray:
    """Stack one vector per token: (T, d) float64. `fallback` is {"seed", "dim"} or None."""
    rows = []
    for pos, tok in enumerate(tokens):
        if tok in vectors:
            rows.append(np.asarray(vectors[tok], dtype=np.float64))
        elif fallback is not None:
            rows.append(fallback_vector(tok, fallback["seed"], fallback["dim"]))
        else:
            raise KeyError(f"token {tok!r} at position {pos} is not in the vocab")
    return np.stack(rows)
