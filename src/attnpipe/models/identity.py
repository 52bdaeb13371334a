"""A model folder's identity by what its files hold, not by their times: a param of the rules that read the folder,
so weights swapped for others with an older modification time (`cp -p`, an unpacked archive, a synced folder)
rerun that model's jobs, where Snakemake, which compares times, would find nothing to do.

Each file's SHA-256 is recorded once, under .snakemake/attnpipe/ of the working folder, beside what stat() says
of the file (device, inode, size, modification and change times). A file is read again only when one of them
changed: a rewrite always moves the change time, which no copy tool can set back. An untouched folder costs a
stat() per file.
"""

import hashlib
import json
import os
from pathlib import Path

from ..store.atomicfile import atomic_path

CACHE = Path(".snakemake/attnpipe/file-hashes.json")
CHUNK = 1 << 24


def fingerprint(paths: list[str]) -> str:
    """One digest of the files' names and contents (their order as given)."""
    recorded = _read_cache()
    digests, changed = [], False
    for path in paths:
        st = os.stat(path)
        stamp = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        entry = recorded.get(os.path.abspath(path))
        if not (isinstance(entry, dict) and entry.get("stat") == stamp):
            entry, changed = {"stat": stamp, "sha256": _sha256(path)}, True
            recorded[os.path.abspath(path)] = entry
        digests.append([Path(path).name, entry["sha256"]])
    if changed:
        _write_cache(recorded)
    return hashlib.sha256(json.dumps(digests).encode()).hexdigest()[:32]


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_cache() -> dict:
    return remembered(CACHE)


def _write_cache(recorded: dict) -> None:
    remembered(CACHE, {path: entry for path, entry in recorded.items() if os.path.exists(path)})  # gone: forgotten


def remembered(path: Path, values: dict | None = None) -> dict:
    """A JSON object kept at `path` (under .snakemake/attnpipe/): read it, or with `values`, write them. A file
    that cannot be read is an empty one; one that cannot be written is asked again next time."""
    if values is None:
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(values), encoding="utf-8")
    except OSError:
        pass
    return values
