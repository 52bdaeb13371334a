"""Files written whole or not at all: a temporary beside the target, renamed onto it on success.

Torch-free, so the render, summary and gallery jobs (which read stage files with attnpipe.store.torchfile) do
not import torch to write their outputs."""

import os
import re
import secrets
from contextlib import contextmanager
from pathlib import Path


def _temporary_name(target: Path) -> str:
    return f".{target.name}.{secrets.token_hex(4)}.tmp"


def _remove_stale_temporaries(target: Path) -> None:
    """Temporaries left beside `target` by a killed job (kill -9 runs no cleanup). Only the job that
    writes `target` gets here, and Snakemake lets one job at a time own an output."""
    stale = re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{8}}\.tmp")
    for entry in target.parent.iterdir():
        if stale.fullmatch(entry.name):
            entry.unlink(missing_ok=True)


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    The temporary is created with mode 0666 less the umask, like any file open() creates (mkstemp's
    0600 would survive the rename and lock out the group and the gallery's web server).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    while True:
        tmp = path.parent / _temporary_name(path)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield str(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_log(path, *lines: str) -> None:
    """A job's log: one line each (torch-free, so the summary and gallery jobs write theirs with it too)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
