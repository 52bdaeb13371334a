"""Weight and bias specs from the config -> float64 arrays.

A matrix spec is one of
  [[...], ...]                                 inline rows
  identity                                     the d_model x d_model identity
  {random: {seed: 1, shape: [d_in, d_out], std: 0.5}}   seeded normal; shape defaults to d_model x d_model,
                                               std to 1/sqrt(d_in)
  {file: path}                                 .npy, .pt (loaded with weights_only=True), .safetensors or .csv
                                               (attnpipe.store.arrayfiles)
A bias (vector) spec is an inline list, {random: {seed: 1, std: 0.1}} (length = the matrix's columns) or {file: path}.
"""

import numpy as np

from ..limits import MAX_VALUES, MAX_WIDTH
from ..store.arrayfiles import SpecError, check_size, check_values, inline_array, read_array_file

__all__ = ["SpecError", "load_matrix", "load_vector", "read_array_file"]


def load_matrix(spec, d_model: int) -> np.ndarray:
    if spec == "identity":
        return np.eye(d_model)
    if isinstance(spec, dict) and "random" in spec:
        opts = spec["random"]
        rows, cols = opts.get("shape", [d_model, d_model])
        check_size((rows, cols), "random shape")
        return _random((rows, cols), opts["seed"], opts.get("std", 1.0 / np.sqrt(rows)))
    if isinstance(spec, dict) and "file" in spec:
        # d_model rows of at most MAX_WIDTH columns: a bigger file is refused unread
        most = min(MAX_VALUES, max(d_model, 1) * MAX_WIDTH)
        return _checked(read_array_file(spec["file"], most), ndim=2, what=f"file {spec['file']}")
    return _checked(inline_array(spec), ndim=2, what="inline matrix")


def load_vector(spec, length: int) -> np.ndarray:
    if isinstance(spec, dict) and "random" in spec:
        opts = spec["random"]
        return _random((length,), opts["seed"], opts.get("std", 1.0))
    if isinstance(spec, dict) and "file" in spec:
        # sized like a matrix file, so a wrong shape gets the message about its shape below
        arr = read_array_file(spec["file"], min(MAX_VALUES, max(length, 1) * MAX_WIDTH))
        if arr.ndim == 2 and 1 in arr.shape:  # a row or column, e.g. attnpipe's b_query.csv (1, d)
            arr = arr.reshape(-1)
        return _checked(arr, ndim=1, what=f"file {spec['file']}")
    return _checked(inline_array(spec), ndim=1, what="inline vector")


def _random(shape, seed: int, std: float) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape) * std


def _checked(arr: np.ndarray, ndim: int, what: str) -> np.ndarray:
    if arr.ndim != ndim or arr.size == 0:
        kind = "a non-empty 2-D matrix" if ndim == 2 else "a non-empty vector"
        raise SpecError(f"{what}: expected {kind}, got shape {tuple(arr.shape)}")
    check_size(arr.shape, what)
    check_values(arr, what)
    return arr

