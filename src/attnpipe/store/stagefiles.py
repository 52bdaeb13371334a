"""A stage on disk: one torch file per stage, one labelled CSV per tensor in it.

<stage>.pt  torch.save of {name: {"tensor": float64 tensor, "row_labels": [...], "column_labels": [...]}},
            one entry per CSV the stage writes, keyed by the CSV's name (attend.pt["attention"] is
            attention.csv). Load with torch.load(path, weights_only=True). Attention matrices are
            (heads, T, T). One file per stage, not per tensor: Snakemake's cost per run grows with
            the number of files it tracks (see benchmarks/sweep.py). A model's weights are float32 (exact:
            its bf16, f16 or f32 numbers); a record with "csv_columns" (column indices) has a CSV of those
            columns only, the .pt every column (attnpipe.look.weightcsv: a big weight's CSV).
<name>.csv  header row = column labels, first column = row labels, values written with repr() so they
            read back exactly with pandas.read_csv(path, index_col=0). (heads, T, T) tensors with more
            than one head are stacked head after head, rows labelled "h<i>/<row label>" (or the record's own
            block_labels, e.g. "h3(kv1)/" with grouped-query attention, "layer2/" for a model's layers).
Every file is written to a temporary file beside the target and renamed: whole or absent. A stage
with a NaN or inf it did not mean to compute (an overflow) writes nothing.
"""

import csv
from pathlib import Path

import numpy as np
import torch

from . import torchfile
from .atomicfile import atomic_path, write_log  # noqa: F401 (the stages' log writer)


class StageError(Exception):
    """A stage computed numbers it must not save (NaN or inf from an overflow); nothing was written."""


CSV_CHUNK_ROWS = 256  # rows turned into Python numbers at a time: a 16384-wide matrix's rows, not all of it


def csv_rows(tensor: torch.Tensor, row_labels, column_labels, block_labels=None, columns=None):
    """Header + labelled rows; a 3-D (heads, T, T) tensor is stacked by head. `columns`: the column indices
    to write (None: all)."""
    if columns is not None:
        tensor = tensor[..., list(columns)]
        column_labels = [column_labels[j] for j in columns]
    yield ["", *column_labels]
    if tensor.dim() == 2:
        blocks = [("", tensor)]
    elif block_labels is not None:
        blocks = [(f"{label}/", t) for label, t in zip(block_labels, tensor, strict=True)]
    else:
        blocks = [(f"h{i}/" if tensor.shape[0] > 1 else "", t) for i, t in enumerate(tensor)]
    for prefix, block in blocks:
        for start in range(0, block.shape[0], CSV_CHUNK_ROWS):
            chunk = block[start:start + CSV_CHUNK_ROWS].tolist()
            for label, values in zip(row_labels[start:start + CSV_CHUNK_ROWS], chunk):
                yield [prefix + label, *map(repr, values)]


def record(tensor: torch.Tensor, row_labels, column_labels, block_labels=None, dtype=torch.float64,
           csv_columns=None, **facts) -> dict:
    """One labelled tensor; the labels must fit its last two dimensions (block_labels: its first, if 3-D).
    dtype: float64, what every stage computes in; float32 for a model's weights (their numbers exactly, half
    the size). csv_columns: the column indices its CSV holds, where it holds fewer than all. `facts` are fields
    of the record that readers take as data, never parsed from labels (attend's kv_heads: the K/V head each
    query head reads)."""
    tensor = tensor.detach().to(dtype).contiguous()
    if tensor.shape[-2:] != (len(row_labels), len(column_labels)):
        raise ValueError(f"labels {len(row_labels)}x{len(column_labels)} do not fit shape {tuple(tensor.shape)}")
    rec = {"tensor": tensor, "row_labels": list(row_labels), "column_labels": list(column_labels)}
    if block_labels is not None:
        rec["block_labels"] = list(block_labels)
    if csv_columns is not None:
        rec["csv_columns"] = [int(j) for j in csv_columns]
    return {**rec, **facts}


def check_finite(stage: str, records: dict[str, dict], masked: dict | None = None) -> None:
    """Raise StageError naming the first tensor holding NaN or inf. `masked` (name -> bool tensor)
    marks the cells where -inf is by design (the causal mask of scaled scores). Checked CSV_CHUNK_ROWS rows
    at a time: on a whole matrix the checks' temporaries took ~1.8x its size (+450 MB for an 8192 x 8192
    float32 one), ~1.8 GB at width 16384."""
    for name, rec in records.items():
        tensor = rec["tensor"]
        rows = tensor.reshape(-1, tensor.shape[-1])
        mask = masked[name].expand(tensor.shape).reshape(rows.shape) if masked and name in masked else None
        count, first, kinds = 0, None, set()
        for start in range(0, rows.shape[0], CSV_CHUNK_ROWS):
            part = rows[start:start + CSV_CHUNK_ROWS]
            bad = ~torch.isfinite(part)
            if mask is not None:
                bad &= ~(mask[start:start + CSV_CHUNK_ROWS] & (part == float("-inf")))
            found = int(bad.sum())
            if not found:
                continue
            if first is None:
                row, column = (int(i) for i in bad.nonzero()[0])
                first = (start + row) * rows.shape[1] + column
            count += found
            kinds |= {k for k, hit in (("inf", part.isinf() & bad), ("NaN", part.isnan())) if hit.any()}
        if not count:
            continue
        index = [int(i) for i in np.unravel_index(first, tensor.shape)]
        cell = f"row {rec['row_labels'][index[-2]]}, column {rec['column_labels'][index[-1]]}"
        if tensor.dim() == 3:
            cell = f"head {index[0]}, {cell}"
        raise StageError(
            f"stage {stage}: {name} overflowed float64: {count} of {tensor.numel()} values are "
            f"{'/'.join(k for k in ('inf', 'NaN') if k in kinds)} (first at {cell}); nothing of this stage was "
            "written"
        )


def write_stage(records: dict[str, dict], outputs: dict, masked: dict | None = None) -> None:
    """Save `records` (name -> record) to outputs["tensors"] and each to outputs["<name>_csv"], or
    raise StageError and write nothing if a tensor is not finite (see check_finite)."""
    check_finite(Path(outputs["tensors"]).stem, records, masked)
    # Saved through a file object: given a path, torch.save names the zip's records after the file (here
    # a random temporary name), so the same tensors would not give the same bytes.
    with atomic_path(outputs["tensors"]) as tmp, open(tmp, "wb") as fh:
        torch.save(records, fh)
    for name, rec in records.items():
        with atomic_path(outputs[f"{name}_csv"]) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            rows = csv_rows(rec["tensor"], rec["row_labels"], rec["column_labels"], rec.get("block_labels"),
                            rec.get("csv_columns"))
            csv.writer(fh, lineterminator="\n").writerows(rows)


def read_stage(pt_path) -> dict[str, dict]:
    """name -> record, as written by write_stage, with torch tensors; never executes code from the file. Read by
    attnpipe.store.torchfile, the one reader of stage files: a damaged file (cut short, a changed byte) raises
    torchfile.TorchFileError, one line with its path and "delete it and rerun"."""
    return _as_torch(torchfile.load(pt_path))


def _as_torch(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, dict):
        return {key: _as_torch(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_torch(item) for item in value]
    return value


def dim_labels(n: int) -> list[str]:
    return [f"d{i}" for i in range(n)]
