"""Read a stage file (a torch.save zip archive) into numpy arrays without importing torch.

The render job reads four stage files and draws; importing torch for that costs ~2 s, a third of a small
render. A torch.save archive is a pickle (archive/data.pkl) whose tensors point at raw little-endian
storages (archive/data/<key>). Only what write_stage saves is allowed: dicts, lists, strings, numbers and
tensors rebuilt by torch._utils._rebuild_tensor_v2; any other global stops the read, so, like
torch.load(weights_only=True), a file never runs code. Tensors come back as numpy arrays that own their data.

This is the one reader of .pt files: of stage files (load; attnpipe.store.stagefiles.read_stage wraps it for
torch) and of the weight and hidden-state files a config names (read; attnpipe.store.arrayfiles). Every record
of the archive is read whole and its CRC-32 checked, so a file cut short or with a changed byte is refused,
with its path and the fix, everywhere it is read (torch.load checks no CRC: a changed number would be read as
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
    "ByteStorage": np.uint8, "BoolStorage": np.bool_, "ComplexFloatStorage": np.complex64,
    "ComplexDoubleStorage": np.complex128,
    "BFloat16Storage": np.uint16,  # bfloat16 is the top half of a float32: widened exactly (_bfloat16)
}


class TorchFileError(ValueError):
    """The file is not a whole torch.save archive of plain data and tensors; str(err) is one line naming the
    file, what is wrong and the fix."""

    def __init__(self, path, problem: str, fix: str = "delete it and rerun to make it again"):
        super().__init__(f"{path}: {problem}; {fix}")


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(STORAGE_DTYPES[name]).newbyteorder("<")
        self.bfloat16 = name == "BFloat16Storage"


class _Storage(np.ndarray):
    """A storage's numbers; bfloat16 ones are widened to float32 when a tensor is rebuilt from them."""

    bfloat16 = False

    def __array_finalize__(self, obj):
        self.bfloat16 = getattr(obj, "bfloat16", False)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * storage.itemsize for s in stride))
    if storage.bfloat16:
        return (view.astype(np.uint32) << 16).view(np.float32)
    return np.array(view, dtype=storage.dtype.newbyteorder("="))  # a copy in native order, writable


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data  # an nn.Parameter saved whole: its tensor


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh, records: dict[str, bytes], prefix: str):
        super().__init__(fh)
        self.records, self.prefix, self.storages = records, prefix, {}

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise Refused(f"{module}.{name} is not allowed in a stage file")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise Refused(f"unexpected reference {kind!r}")
        if key not in self.storages:
            raw = self.records[f"{self.prefix}/data/{key}"]
            storage = np.frombuffer(raw, dtype=storage_type.dtype, count=numel).view(_Storage)
            storage.bfloat16 = storage_type.bfloat16
            self.storages[key] = storage
        return self.storages[key]


class Refused(Exception):
    """The file holds something other than plain data and tensors (a class, a function: code it would run)."""



def read(path):
    """What torch.load(path, weights_only=True) returns, with numpy arrays for tensors (bfloat16 widened to
    float32). Refused for a global that is not plain data or a tensor; the zip, pickle and OS errors as raised.
    For a file a config names (attnpipe.store.arrayfiles); a stage file: load."""
    records = _read_records(path)
    pickles = [n for n in records if n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise ValueError("not a torch.save archive: no single data.pkl")
    prefix = pickles[0][: -len("/data.pkl")]
    if records.get(f"{prefix}/byteorder", b"little").strip() != b"little":
        raise ValueError("big-endian torch files are not supported")
    return _Unpickler(io.BytesIO(records[pickles[0]]), records, prefix).load()


def load(path):
    """A stage file, as read() reads it; TorchFileError (one line: the path, what is wrong, "delete it and
    rerun") for anything but a whole stage file."""
    try:
        return read(path)
    except OSError as exc:  # missing, unreadable: the same one line
        raise TorchFileError(path, f"cannot read the stage file ({exc.strerror or type(exc).__name__})",
                             "rerun to make it again") from None
    except Refused as exc:
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
