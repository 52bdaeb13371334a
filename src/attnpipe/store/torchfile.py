"""Read a stage file (a torch.save zip archive) into numpy arrays without importing torch.

The render job reads four stage files and draws; importing torch for that costs ~2 s, a third of a small
render. A torch.save archive is a pickle (archive/data.pkl) whose tensors point at raw little-endian
storages (archive/data/<key>). Only what write_stage saves is allowed: dicts, lists, strings, numbers and
tensors rebuilt by torch._utils._rebuild_tensor_v2; any other global stops the read, so, like
torch.load(weights_only=True), a file never runs code. Tensors come back as numpy arrays that own their data.

This is the one reader of stage files (attnpipe.stagefiles.read_stage wraps it for torch): every record of
the archive is read whole and its CRC-32 checked, so a file cut short or with a changed byte is refused, with
its path and the fix, everywhere it is read (torch.load checks no CRC: a changed number would be read as
any other).
"""

import io
import pickle
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

# torch storage class -> numpy dtype (torch.save names the storage class in each tensor's reference)
STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class TorchFileError(ValueError):
    """The file is not a whole torch.save archive of plain data and tensors; str(err) is one line naming the
    file, what is wrong and the fix."""

    def __init__(self, path, problem: str, fix: str = "delete it and rerun to make it again"):
        super().__init__(f"{path}: {problem}; {fix}")


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(STORAGE_DTYPES[name]).newbyteorder("<")


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * storage.itemsize for s in stride))
    return np.array(view, dtype=storage.dtype.newbyteorder("="))  # a copy in native order, writable


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh, records: dict[str, bytes], prefix: str):
        super().__init__(fh)
        self.records, self.prefix, self.storages = records, prefix, {}

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise _Refused(f"{module}.{name} is not allowed in a stage file")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise _Refused(f"unexpected reference {kind!r}")
        if key not in self.storages:
            raw = self.records[f"{self.prefix}/data/{key}"]
            self.storages[key] = np.frombuffer(raw, dtype=storage_type.dtype, count=numel)
        return self.storages[key]


class _Refused(Exception):
    """What the unpickler found is not a stage file's (load() adds the path)."""


def load(path):
    """What torch.load(path, weights_only=True) returns, with numpy arrays for tensors; TorchFileError (one
    line: the path, what is wrong, "delete it and rerun") for anything but a whole stage file."""
    try:
        records = _read_records(path)
        pickles = [n for n in records if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise _Refused("not a torch.save archive: no single data.pkl")
        prefix = pickles[0][: -len("/data.pkl")]
        if records.get(f"{prefix}/byteorder", b"little").strip() != b"little":
            raise _Refused("big-endian torch files are not supported")
        return _Unpickler(io.BytesIO(records[pickles[0]]), records, prefix).load()
    except OSError as exc:  # missing, unreadable: the same one line
        raise TorchFileError(path, f"cannot read the stage file ({exc.strerror or type(exc).__name__})",
                             "rerun to make it again") from None
    except _Refused as exc:
        raise TorchFileError(path, f"damaged stage file ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, pickle.UnpicklingError, KeyError, IndexError, TypeError,
            ValueError, AttributeError) as exc:
        raise TorchFileError(path, f"damaged stage file ({_problem(exc)})") from None


def _read_records(path) -> dict[str, bytes]:
    """Every record of the zip archive, read whole: zipfile checks each one's CRC-32 at its end."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _problem(exc: Exception) -> str:
    text = str(exc).strip()
    if isinstance(exc, zipfile.BadZipFile) and "CRC" in text:
        return f"its contents do not match their checksum: {text}"
    if isinstance(exc, zipfile.BadZipFile):
        return f"not a whole zip archive, cut short or overwritten: {text}"
    if isinstance(exc, KeyError):
        return f"a record is missing: {text}"
    return f"{type(exc).__name__}: {text}"[:200]
