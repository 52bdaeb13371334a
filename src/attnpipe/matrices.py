"""Weight and bias specs from the config -> float64 arrays.

A matrix spec is one of
  [[...], ...]                                 inline rows
  identity                                     the d_model x d_model identity
  {random: {seed: 1, shape: [d_in, d_out], std: 0.5}}   seeded normal; shape defaults to d_model x d_model,
                                               std to 1/sqrt(d_in)
  {file: path}                                 .npy, .pt (loaded with weights_only=True) or .csv
A bias (vector) spec is an inline list, {random: {seed: 1, std: 0.1}} (length = the matrix's columns) or {file: path}.
"""

import csv
from pathlib import Path

import numpy as np

FILE_SUFFIXES = (".npy", ".pt", ".csv")


class SpecError(ValueError):
    """A spec or file that cannot become the expected array; the message says what was expected."""


def load_matrix(spec, d_model: int) -> np.ndarray:
    if spec == "identity":
        return np.eye(d_model)
    if isinstance(spec, dict) and "random" in spec:
        opts = spec["random"]
        rows, cols = opts.get("shape", [d_model, d_model])
        return _random((rows, cols), opts["seed"], opts.get("std", 1.0 / np.sqrt(rows)))
    if isinstance(spec, dict) and "file" in spec:
        return _checked(read_array_file(spec["file"]), ndim=2, what=f"file {spec['file']}")
    return _checked(_inline(spec), ndim=2, what="inline matrix")


def load_vector(spec, length: int) -> np.ndarray:
    if isinstance(spec, dict) and "random" in spec:
        opts = spec["random"]
        return _random((length,), opts["seed"], opts.get("std", 1.0))
    if isinstance(spec, dict) and "file" in spec:
        return _checked(read_array_file(spec["file"]).reshape(-1), ndim=1, what=f"file {spec['file']}")
    return _checked(_inline(spec), ndim=1, what="inline vector")


def _random(shape, seed: int, std: float) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape) * std


def _inline(values) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError("expected rows of numbers, all of the same length") from None


def _checked(arr: np.ndarray, ndim: int, what: str) -> np.ndarray:
    if arr.ndim != ndim or arr.size == 0:
        kind = "a non-empty 2-D matrix" if ndim == 2 else "a non-empty vector"
        raise SpecError(f"{what}: expected {kind}, got shape {tuple(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        raise SpecError(f"{what}: expected finite numbers, found NaN or inf")
    return arr


def read_array_file(path) -> np.ndarray:
    """Read a numeric array from .npy, .pt or .csv; never executes code from the file."""
    path = Path(path)
    if path.suffix not in FILE_SUFFIXES:
        raise SpecError(f"file {path}: expected a {', '.join(FILE_SUFFIXES)} file")
    if not path.is_file():
        raise SpecError(f"file {path}: not found")
    try:
        if path.suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif path.suffix == ".pt":
            arr = _read_pt(path)
        else:
            arr = _read_csv(path)
    except SpecError:
        raise
    except Exception as exc:  # any parser failure is "unreadable", reported with the file name
        raise SpecError(f"file {path}: unreadable ({type(exc).__name__}: {exc})") from None
    if arr.dtype.kind not in "iuf":
        raise SpecError(f"file {path}: expected real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _read_pt(path: Path) -> np.ndarray:
    import torch  # only when a .pt file is used: torch costs ~2 s to import

    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and len(obj) == 1:  # an attnpipe stage file holding one record
        obj = next(iter(obj.values()))
    if isinstance(obj, dict) and "tensor" in obj:  # an attnpipe record: {"tensor", "row_labels", ...}
        obj = obj["tensor"]
    if not isinstance(obj, torch.Tensor):
        raise SpecError(f"file {path}: expected a tensor, got {type(obj).__name__}")
    if obj.is_complex() or obj.dtype == torch.bool:
        raise SpecError(f"file {path}: expected real numbers, got dtype {obj.dtype}")
    return obj.detach().to(torch.float64).numpy()


def _read_csv(path: Path) -> np.ndarray:
    """A bare grid of numbers, or a labelled one as attnpipe writes it (header row, label column)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.reader(fh) if row]
    if rows and (rows[0][0] == "" or not all(map(_is_number, rows[0]))):
        rows = rows[1:]  # header row
    if rows and not all(_is_number(r[0]) for r in rows):
        rows = [r[1:] for r in rows]  # label column
    if len({len(r) for r in rows}) > 1:
        raise SpecError(f"file {path}: expected rows of equal length")
    try:
        return np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise SpecError(f"file {path}: expected numbers ({exc})") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
