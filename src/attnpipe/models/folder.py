"""What a model folder holds, read without torch: its tokenizer's files, its .safetensors headers, and the one
error type for a folder (or hub repository) that is not as expected. Shared by spec (folders) and hub."""

import json
import math
from pathlib import Path

from ..errors import ConfigError

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model")
TOKENIZER_EXTRAS = ("tokenizer_config.json", "special_tokens_map.json", "merges.txt", "added_tokens.json")
MAX_HEADER_BYTES = 100_000_000  # a .safetensors JSON header (safetensors' own limit)
# bytes per number of each .safetensors dtype (the header's data offsets must agree with the shapes)
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
               "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


class ModelConfigError(ConfigError):
    """str(err) is the one line to show."""


def safetensors_numel(path: Path, where: str) -> int:
    """Numbers in a .safetensors file, from its header (safetensors_header)."""
    numel = 0
    for name, entry in safetensors_header(path, where).items():
        if name != "__metadata__":
            numel += math.prod(entry["shape"])
    return numel


def safetensors_header(path: Path, where: str) -> dict:
    """A .safetensors file's JSON header (8 bytes of length, then the header), which must describe the file:
    every tensor's bytes inside it, as many as its shape and dtype take. Nothing else read."""
    def malformed(what: str) -> ModelConfigError:
        return ModelConfigError(f"{where}: {path}: malformed .safetensors file ({what}); expected a whole file "
                                "saved by safetensors")

    size = path.stat().st_size
    with open(path, "rb") as fh:
        length = int.from_bytes(fh.read(8), "little")
        if size < 8 or not 0 < length <= min(MAX_HEADER_BYTES, size - 8):
            raise malformed(f"a header of {length:,} bytes in a file of {size:,}")
        try:
            header = json.loads(fh.read(length))
        except ValueError as exc:
            raise malformed(f"header: {first_line(exc)}") from None
    if not isinstance(header, dict):
        raise malformed(f"header: expected a JSON object, got {json_kind(header)}")
    data = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            shape, (begin, end), width = entry["shape"], entry["data_offsets"], DTYPE_BYTES[entry["dtype"]]
            count = 1
            for dim in shape:
                if isinstance(dim, bool) or not isinstance(dim, int) or dim < 0:
                    raise ValueError(dim)
                count *= dim
            if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= data
                    and end - begin == count * width):
                raise ValueError(begin, end)
        except (KeyError, TypeError, ValueError):
            raise malformed(f"tensor {name[:60]!r}: its shape, dtype or data offsets do not fit the file") from None
    return header


def first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def json_kind(value) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false",
            type(None): "null"}.get(type(value), type(value).__name__)
