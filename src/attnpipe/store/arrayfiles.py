"""Numeric arrays from files (.npy, .pt, .safetensors, .csv), with the row labels a file carries.

Nothing here executes code from a file: .npy is read with allow_pickle=False, .pt by attnpipe.store.torchfile
(tensors, plain containers and strings only, as torch.load(weights_only=True)), .safetensors is a JSON header
plus raw bytes. Row labels (token labels for hidden states) come from
  .csv          the first column, when it is not numeric (attnpipe's own CSVs, pandas' to_csv)
  .pt           an attnpipe record {"tensor", "row_labels", ...}, or a stage file holding one record
  .safetensors  the header metadata "tokens": a JSON list of strings
  .npy          nowhere: labels must come from the config
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..limits import FILE_BYTES_PER_VALUE, FILE_SLACK_BYTES, MAX_MAGNITUDE, MAX_VALUES, MAX_WIDTH
from . import torchfile

FILE_SUFFIXES = (".npy", ".pt", ".safetensors", ".csv")
# safetensors dtypes numpy cannot hold; read through torch instead
TORCH_ONLY_DTYPES = {"BF16", "F8_E4M3", "F8_E5M2"}


class SpecError(ConfigError):
    """A spec or file that cannot become the expected array; the message says what was expected."""


@dataclass
class LabelledArray:
    values: np.ndarray  # float64
    row_labels: list[str] | None


def read_array_file(path, max_values: int = MAX_VALUES) -> np.ndarray:
    """The float64 array in `path`, labels dropped."""
    return read_labelled_file(path, max_values).values


def read_labelled_file(path, max_values: int = MAX_VALUES) -> LabelledArray:
    """The float64 array in `path` and its row labels, if the file carries any.

    A file too big to hold `max_values` numbers (the most the expected shape allows) is refused before
    it is read: a sparse file of gigabytes costs nothing to make and minutes and gigabytes to parse."""
    path = Path(path)
    if path.suffix not in FILE_SUFFIXES:
        raise SpecError(f"file {path}: expected a {', '.join(FILE_SUFFIXES)} file")
    if path.is_dir():
        raise SpecError(f"file {path}: is a directory, expected a file")
    if not path.is_file():
        raise SpecError(f"file {path}: not found")
    max_bytes = max_values * FILE_BYTES_PER_VALUE + FILE_SLACK_BYTES
    if (size := path.stat().st_size) > max_bytes:
        raise SpecError(
            f"file {path}: {size:,} bytes, expected at most {max_bytes:,} for the {max_values:,} numbers "
            "it may hold; not read"
        )
    reader = {".npy": _read_npy, ".pt": _read_pt, ".safetensors": _read_safetensors, ".csv": _read_csv}[path.suffix]
    try:
        arr, labels = reader(path)
    except SpecError:
        raise
    except Exception as exc:  # any parser failure is "unreadable", reported with the file name
        message = " ".join(str(exc).split())  # one line, whatever the parser wrote
        raise SpecError(f"file {path}: unreadable ({type(exc).__name__}: {message})") from None
    if arr.dtype.kind not in "iuf":
        raise SpecError(f"file {path}: expected real numbers, got dtype {arr.dtype}")
    if arr.size > max_values:
        raise SpecError(f"file {path}: expected at most {max_values:,} numbers, got shape {tuple(arr.shape)}")
    if labels is not None and (not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)):
        raise SpecError(f"file {path}: expected the row labels to be a list of strings")
    return LabelledArray(arr.astype(np.float64), labels)


def _read_npy(path: Path):
    # np.load takes a file without the .npy magic for a pickle ("pickled data"): say what it is instead
    with open(path, "rb") as fh:
        if fh.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
            raise SpecError(f"file {path}: not a valid .npy file (no NumPy header)")
    return np.load(path, allow_pickle=False), None


def _read_pt(path: Path):
    # torchfile: the one .pt reader (CRC-checked, no torch import, never runs code)
    try:
        obj = torchfile.read(path)
    except torchfile.Refused:
        raise SpecError(
            f"file {path}: refused: it holds Python objects other than tensors, lists, dicts and strings "
            "(attnpipe never runs code from a file)"
        ) from None
    if isinstance(obj, dict) and len(obj) == 1:  # an attnpipe stage file holding one record
        obj = next(iter(obj.values()))
    labels = None
    if isinstance(obj, dict) and "tensor" in obj:  # an attnpipe record: {"tensor", "row_labels", ...}
        obj, labels = obj["tensor"], obj.get("row_labels")
    if not isinstance(obj, np.ndarray):
        raise SpecError(f"file {path}: expected a tensor, got {type(obj).__name__}")
    return obj, labels  # read_array_file checks the dtype


def _read_safetensors(path: Path):
    from safetensors import safe_open

    with safe_open(path, framework="numpy") as fh:
        names, metadata = list(fh.keys()), fh.metadata() or {}
        if len(names) != 1:
            listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise SpecError(f"file {path}: expected exactly one tensor, found {len(names)} ({listed})")
        if fh.get_slice(names[0]).get_dtype() not in TORCH_ONLY_DTYPES:
            arr = fh.get_tensor(names[0])
        else:
            arr = None
    if arr is None:
        import torch

        with safe_open(path, framework="pt") as fh:
            arr = fh.get_tensor(names[0]).to(torch.float64).numpy()
    labels = None
    if "tokens" in metadata:
        try:
            labels = json.loads(metadata["tokens"])
        except json.JSONDecodeError:
            raise SpecError(f"file {path}: expected the metadata 'tokens' to be a JSON list of strings") from None
    return arr, labels


def _read_csv(path: Path):
    """A bare grid of numbers, or a labelled one as attnpipe writes it (header row, label column)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.reader(fh) if row]
    labelled = bool(rows) and rows[0][0] == ""  # pandas / attnpipe: the header's first cell is empty
    if rows and (labelled or not all(map(_is_number, rows[0]))):
        rows = rows[1:]  # header row
    labels = None
    if rows and (labelled or not all(_is_number(r[0]) for r in rows)):
        labels, rows = [r[0] for r in rows], [r[1:] for r in rows]  # label column
    if len({len(r) for r in rows}) > 1:
        raise SpecError(f"file {path}: expected rows of equal length")
    try:
        return np.array([[float(v) for v in r] for r in rows], dtype=np.float64), labels
    except ValueError as exc:
        raise SpecError(f"file {path}: expected numbers ({exc})") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def check_values(arr: np.ndarray, what: str) -> None:
    """Numbers from a config or a file (a matrix, a bias, hidden states): finite and within ±MAX_MAGNITUDE
    (attnpipe.limits)."""
    if not np.all(np.isfinite(arr)):
        raise SpecError(f"{what}: expected finite numbers, found NaN or inf")
    if arr.size and np.abs(arr).max() > MAX_MAGNITUDE:
        raise SpecError(f"{what}: expected numbers within ±{MAX_MAGNITUDE:g}, got {np.abs(arr).max():g}")


def inline_array(values, what: str | None = None) -> np.ndarray:
    """Numbers written in the config (rows, or a vector) as float64; one line naming `what` if they are not."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError(f"{what + ': ' if what else ''}expected rows of numbers, all of the same length") from None


def check_size(shape: tuple, what: str, max_rows: int = MAX_WIDTH, rows: str | None = None) -> None:
    """The size limits of an array from the config or a file, checked before anything of that size is made: at
    most `max_rows` rows (named `rows`, e.g. tokens), MAX_WIDTH columns and MAX_VALUES numbers."""
    if shape[0] > max_rows or max(shape[1:], default=0) > MAX_WIDTH or int(np.prod(shape)) > MAX_VALUES:
        limits = (f"{max_rows} rows ({rows}), {MAX_WIDTH} columns" if rows else f"{MAX_WIDTH} rows and columns")
        raise SpecError(f"{what}: expected at most {limits} and {MAX_VALUES:,} numbers, got shape {tuple(shape)}")
