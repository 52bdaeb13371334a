"""Where each tensor of a model folder is: name -> (file, dtype, shape), from the .safetensors headers (and
the shard index), without reading any weights and without torch; folders of pickled .bin files only are
listed through torch.load(mmap=True, weights_only=True), which maps them and runs no code.

tensor_index(folder, names) is the one check of a folder's weight files: a shard the index names that is
missing, a file cut short or malformed, an index naming a tensor its shard does not hold, a wanted tensor
that is nowhere or stored in a dtype the streamed forward does not read: each is a WeightFileError whose
str() is one line naming the file and the tensor. Only the shards holding the wanted tensors are opened, so a
forward that stops at layer 1 needs no later shard.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

# bytes per number of each .safetensors dtype (a tensor's data must take exactly shape x this)
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
               "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
# what the streamed forward reads, each converted to float32 exactly
READABLE = ("F32", "F16", "BF16")
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit
SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_INDEX = "pytorch_model.bin.index.json"
# a layer's tensors, in every family's naming: model.layers.3., transformer.h.3., bert.encoder.layer.3.
LAYER_NAME = re.compile(r"(?:^|\.)(?:layers|h|layer)\.(\d+)\.")


class WeightFileError(ValueError):
    """A model folder's weight files cannot give a tensor; str(err) is one line naming the file and tensor."""


@dataclass(frozen=True)
class TensorEntry:
    file: Path
    dtype: str  # as .safetensors names it: F32, F16, BF16, ...
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


def tensor_index(folder, names=None) -> dict[str, TensorEntry]:
    """name -> TensorEntry. names=None: every tensor of every weight file (the dtype is not checked: a folder
    may hold integer buffers that no forward reads). With names: exactly those, each present and readable
    (F32, F16 or BF16), opening only the files that hold them."""
    files = WeightFiles(folder)
    wanted = files.names() if names is None else list(names)
    return {name: files.entry(name, check_dtype=names is not None) for name in wanted}


def layer_numels(folder) -> dict[int, int]:
    """layer -> the numbers in its tensors, from the headers of the folder's .safetensors files (those there:
    an estimate of what one layer's job holds, not a check)."""
    numels: dict[int, int] = {}
    for path in sorted(Path(folder).glob("*.safetensors")):
        for name, entry in _safetensors_header(path).items():
            match = LAYER_NAME.search(name)
            if match:
                numels[int(match.group(1))] = numels.get(int(match.group(1)), 0) + entry.numel
    return numels


class WeightFiles:
    """A model folder's weight files, their headers read when first needed and kept (headers only)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.index, self.where = self._weight_map()  # name -> file name (None: from each file's header)
        self._headers: dict[Path, dict[str, TensorEntry]] = {}

    def names(self) -> list[str]:
        if self.index is not None:
            return list(self.index)
        return [name for path in self._files() for name in self._header(path)]

    def find(self, name: str) -> bool:
        if self.index is not None:
            return name in self.index
        return any(name in self._header(path) for path in self._files())

    def entry(self, name: str, check_dtype: bool = True) -> TensorEntry:
        if self.index is not None:
            if name not in self.index:
                raise WeightFileError(f"{self.where}: no tensor {name!r} in its weight_map; expected every weight of "
                                      "the layers the forward runs")
            path = self.folder / self.index[name]
            header = self._header(path, name)
            if name not in header:
                raise WeightFileError(f"{self.where}: names {path.name} for tensor {name!r}, but {path} does not hold "
                                      "it; expected the index to match its shards")
            found = header[name]
        else:
            found = next((h[name] for h in map(self._header, self._files()) if name in h), None)
            if found is None:
                raise WeightFileError(f"{self.where}: no tensor {name!r}; expected every weight of the layers the "
                                      "forward runs")
        if check_dtype and found.dtype not in READABLE:
            raise WeightFileError(f"{found.file}: tensor {name!r} is stored as {found.dtype}; expected one of "
                                  f"{', '.join(READABLE)} (read as float32)")
        return found

    def _weight_map(self):
        for index_name in (SAFETENSORS_INDEX, BIN_INDEX):
            path = self.folder / index_name
            if path.is_file() and (index_name == SAFETENSORS_INDEX or not self._files("*.safetensors")):
                return _read_index(path), path
        if not self._files():
            raise WeightFileError(f"{self.folder}: expected the model's weights (*.safetensors or *.bin), found none")
        return None, ", ".join(str(p) for p in self._files())

    def _files(self, pattern=None) -> list[Path]:
        """The weight files when there is no index: .safetensors ones, else the .bin ones (as transformers)."""
        patterns = [pattern] if pattern else ["*.safetensors", "*.bin"]
        for pat in patterns:
            found = sorted(p for p in self.folder.glob(pat) if p.is_file())
            if found:
                return found
        return []

    def _header(self, path: Path, name=None) -> dict[str, TensorEntry]:
        if path not in self._headers:
            if not path.is_file():
                what = f" for tensor {name!r}" if name else ""
                raise WeightFileError(f"{self.where}: names {path.name}{what}, but there is no such file in "
                                      f"{self.folder}; expected every shard the index lists")
            read = _bin_header if path.suffix == ".bin" else _safetensors_header
            self._headers[path] = read(path)
        return self._headers[path]


def _read_index(path: Path) -> dict[str, str]:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        weight_map = index["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError("weight_map is not an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WeightFileError(f"{path}: cannot read the shard index ({_first_line(exc)}); expected JSON with a "
                              "weight_map of tensor name -> shard file") from None
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or Path(shard).name != shard or shard in ("", ".", ".."):
            raise WeightFileError(f"{path}: tensor {name!r} is mapped to {shard!r}; expected the name of a file "
                                  "beside the index")
    return weight_map


def _safetensors_header(path: Path) -> dict[str, TensorEntry]:
    def malformed(why):
        return WeightFileError(f"{path}: cut short or malformed .safetensors file ({why}); expected the file as "
                               "it was saved")

    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            start = fh.read(8)
            length = int.from_bytes(start, "little") if len(start) == 8 else -1
            if not 0 < length <= min(MAX_HEADER_BYTES, size - 8):
                raise malformed(f"a header of {length} bytes in a file of {size}")
            header = json.loads(fh.read(length))
    except OSError as exc:
        raise WeightFileError(f"{path}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    except ValueError as exc:
        raise malformed(f"header: {_first_line(exc)}") from None
    if not isinstance(header, dict):
        raise malformed("the header is not a JSON object")
    data = size - 8 - length
    entries = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            shape, (begin, end), dtype = tuple(info["shape"]), info["data_offsets"], info["dtype"]
            if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
                raise ValueError(shape)
            entry = TensorEntry(path, dtype, shape)
            if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end
                    and end - begin == entry.numel * DTYPE_BYTES[dtype]):
                raise ValueError(begin, end)
        except (KeyError, TypeError, ValueError):
            raise malformed(f"tensor {name[:80]!r}: its shape, dtype or data offsets do not fit") from None
        if end > data:
            raise malformed(f"tensor {name[:80]!r} ends at byte {end} of the data, which holds {data}")
        entries[name] = entry
    return entries


def _bin_header(path: Path) -> dict[str, TensorEntry]:
    import pickle
    import zipfile

    import torch

    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}
    if not zipfile.is_zipfile(path):  # torch.load maps only the zip format (torch >= 1.6's default)
        raise WeightFileError(f"{path}: not a torch.save zip archive (damaged, or torch's legacy format, which "
                              "cannot be mapped); expected a pytorch_model.bin saved by torch >= 1.6, or .safetensors")
    try:
        tensors = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise WeightFileError(f"{path}: cannot read it as torch.save weights ({_first_line(exc)}); expected a "
                              "whole pytorch_model.bin of tensors") from None
    if not isinstance(tensors, dict):
        raise WeightFileError(f"{path}: expected a dict of tensor name -> tensor, got {type(tensors).__name__}")
    return {str(name): TensorEntry(path, names.get(t.dtype, str(t.dtype).removeprefix("torch.")), tuple(t.shape))
            for name, t in tensors.items() if isinstance(t, torch.Tensor)}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
