"""A stage on disk: one torch file per stage, one labelled CSV per tensor in it.

<stage>.pt  torch.save of {name: {"tensor": float64 tensor, "row_labels": [...], "column_labels": [...]}},
            one entry per CSV the stage writes, keyed by the CSV's name (attend.pt["attention"] is
            attention.csv). Load with torch.load(path, weights_only=True). Attention matrices are
            (heads, T, T). One file per stage, not per tensor: Snakemake's cost per run grows with
            the number of files it tracks (see benchmarks/sweep.py).
<name>.csv  header row = column labels, first column = row labels, values written with repr() so they
            read back exactly with pandas.read_csv(path, index_col=0). (heads, T, T) tensors with more
            than one head are stacked head after head, rows labelled "h<i>/<row label>".
Every file is written to a temporary file beside the target and renamed: whole or absent.
"""

import csv
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def csv_rows(tensor: torch.Tensor, row_labels, column_labels):
    """Header + labelled rows; a 3-D (heads, T, T) tensor is stacked by head."""
    yield ["", *column_labels]
    if tensor.dim() == 2:
        blocks = [("", tensor)]
    else:
        blocks = [(f"h{i}/" if tensor.shape[0] > 1 else "", t) for i, t in enumerate(tensor)]
    for prefix, block in blocks:
        for label, values in zip(row_labels, block.tolist()):
            yield [prefix + label, *map(repr, values)]


def record(tensor: torch.Tensor, row_labels, column_labels) -> dict:
    """One labelled tensor; the labels must fit its last two dimensions."""
    tensor = tensor.detach().to(torch.float64).contiguous()
    if tensor.shape[-2:] != (len(row_labels), len(column_labels)):
        raise ValueError(f"labels {len(row_labels)}x{len(column_labels)} do not fit shape {tuple(tensor.shape)}")
    return {"tensor": tensor, "row_labels": list(row_labels), "column_labels": list(column_labels)}


def write_stage(records: dict[str, dict], outputs: dict) -> None:
    """Save `records` (name -> record) to outputs["tensors"] and each to outputs["<name>_csv"]."""
    # Saved through a file object: given a path, torch.save names the zip's records after the file (here
    # a random temporary name), so the same tensors would not give the same bytes.
    with atomic_path(outputs["tensors"]) as tmp, open(tmp, "wb") as fh:
        torch.save(records, fh)
    for name, rec in records.items():
        with atomic_path(outputs[f"{name}_csv"]) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(csv_rows(rec["tensor"], rec["row_labels"], rec["column_labels"]))


def read_stage(pt_path) -> dict[str, dict]:
    """name -> record, as written by write_stage; never executes code from the file."""
    return torch.load(pt_path, map_location="cpu", weights_only=True)


def dim_labels(n: int) -> list[str]:
    return [f"d{i}" for i in range(n)]


def write_log(path, *lines: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
