"""Hidden states X: each token fetches its row of the vocab table, or a prompt brings its own rows."""

import hashlib

import numpy as np

from ..limits import MAX_TOKENS
from ..store.arrayfiles import LabelledArray, SpecError, check_size, check_values, inline_array, read_labelled_file


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


def load_hidden_states(spec) -> LabelledArray:
    """A prompt's own hidden states: inline rows or {file: path}; (T, d) float64, finite, with the file's labels."""
    if isinstance(spec, dict):
        found, what = read_labelled_file(spec["file"]), f"file {spec['file']}"
    else:
        what = "inline hidden states"
        found = LabelledArray(inline_array(spec, what), None)
    if found.values.ndim != 2 or found.values.size == 0:
        raise SpecError(f"{what}: expected a non-empty 2-D matrix (one row per token), got shape {found.values.shape}")
    check_size(found.values.shape, what, MAX_TOKENS, "tokens")
    check_values(found.values, what)
    return found
