"""Read a stage file (a torch.save zip archive) into numpy arrays without importing torch.

The render job reads four stage files and draws; importing torch for that costs ~2 s, a third of a small
render. A torch.save archive is a pickle (archive/data.pkl) whose tensors point at raw little-endian
storages (archive/data/<key>). Only what write_stage saves is allowed: dicts, lists, strings, numbers and
tensors rebuilt by torch._utils._rebuild_tensor_v2; any other global stops the read, so, like
torch.load(weights_only=True), a file never runs code. Tensors come back as numpy arrays that own their data.
"""

import pickle
import zipfile
from collections import OrderedDict

import numpy as np

# torch storage class -> numpy dtype (torch.save names the storage class in each tensor's reference)
STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class TorchFileError(ValueError):
    """The file is not a torch.save archive of plain data and tensors."""


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(STORAGE_DTYPES[name]).newbyteorder("<")


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * storage.itemsize for s in stride))
    return np.array(view, dtype=storage.dtype.newbyteorder("="))  # a copy in native order, writable


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh, archive: zipfile.ZipFile, prefix: str):
        super().__init__(fh)
        self.archive, self.prefix, self.storages = archive, prefix, {}

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise TorchFileError(f"{module}.{name} is not allowed in a stage file")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise TorchFileError(f"unexpected reference {kind!r} in a stage file")
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}/data/{key}")
            self.storages[key] = np.frombuffer(raw, dtype=storage_type.dtype, count=numel)
        return self.storages[key]


def load(path):
    """What torch.load(path, weights_only=True) returns, with numpy arrays for tensors."""
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise TorchFileError(f"{path}: not a torch.save archive (no single data.pkl)")
        prefix = pickles[0][: -len("/data.pkl")]
        names = set(archive.namelist())
        if f"{prefix}/byteorder" in names and archive.read(f"{prefix}/byteorder").strip() != b"little":
            raise TorchFileError(f"{path}: big-endian torch files are not supported")
        with archive.open(pickles[0]) as fh:
            return _Unpickler(fh, archive, prefix).load()

