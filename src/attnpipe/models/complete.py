"""Whether a model folder holds every tensor its model reads, asked of transformers itself: the model built on
the meta device from config.json (no memory, no weights), loaded, through transformers' own loading code
(prefixes such as `bert.`, renamed keys, tied weights, keys its class lets go missing), with stand-ins of the
shapes and dtypes the .safetensors headers give. What transformers would then call missing, or of another
shape, it would fill with fresh random numbers or refuse in the job: here it is one line before any job.
Extra tensors (an LM head beside a base model) are fine.

Importing torch and transformers costs seconds, and Snakemake loads the config at every start: a folder found
complete is remembered under .snakemake/attnpipe/ (of the working folder), keyed by config.json, the tensors'
names, shapes and dtypes, and the transformers version. An untouched folder pays only for reading the headers.
"""

import hashlib
import json
import re
from importlib.metadata import version
from pathlib import Path

from ..store.atomicfile import atomic_path

CACHE = Path(".snakemake/attnpipe/complete-models")
CHECK_VERSION = "1"  # bump when what the check asks changes: every folder is asked again


def problem(folder: Path, tensors: dict[str, tuple[str, str, list[int]]], deepest: int) -> tuple[str, str] | None:
    """(model tensor name, what is wrong) for the first tensor the model reads up to its layer `deepest` that
    the folder does not hold as it must, None when it holds them all. `tensors`: name -> (file, dtype, shape),
    from the headers."""
    key = _key(folder, tensors, deepest)
    if key is not None and (CACHE / key).is_file():
        return None
    found = _ask_transformers(folder, tensors, deepest)
    if found is None and key is not None:
        try:
            CACHE.mkdir(parents=True, exist_ok=True)
            with atomic_path(CACHE / key) as tmp:
                Path(tmp).write_text(f"{folder}\n", encoding="utf-8")
        except OSError:
            pass  # a read-only working folder: asked again next time
    return found


def _key(folder: Path, tensors: dict, deepest: int) -> str | None:
    try:
        stamp = [CHECK_VERSION, deepest, version("transformers"), (folder / "config.json").read_text(encoding="utf-8"),
                 sorted((name, Path(file).name, dtype, shape) for name, (file, dtype, shape) in tensors.items())]
    except (OSError, ValueError):
        return None
    return hashlib.sha256(json.dumps(stamp).encode()).hexdigest()


def _ask_transformers(folder: Path, tensors: dict, deepest: int) -> tuple[str, str] | None:
    import torch
    from transformers import AutoConfig, AutoModel
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import convert_and_load_state_dict_in_model
    from transformers.modeling_utils import LoadStateDictConfig
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # its notes on config.json and its loading bars are not ours to print
    hf_logging.disable_progress_bar()
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        with torch.device("meta"):
            model = AutoModel.from_config(config)
        stand_ins = {name: torch.empty(shape, dtype=_torch_dtype(torch, dtype), device="meta")
                     for name, (_, dtype, shape) in tensors.items()}
        load = LoadStateDictConfig(weight_mapping=get_model_conversion_mapping(model, None, None),
                                   dtype=torch.float32, device_map={"": torch.device("meta")})
        info, _ = convert_and_load_state_dict_in_model(model, stand_ins, load)
        model.tie_weights(missing_keys=info.missing_keys, recompute_mapping=False)  # a tied copy is not missing
        model._adjust_missing_and_unexpected_keys(info)  # the keys its class lets go missing
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    missing = sorted(name for name in info.missing_keys if _read_up_to(model, deepest, name))
    if missing:
        return missing[0], "missing"
    if info.mismatched_keys:
        name, found, expected = sorted(info.mismatched_keys)[0]
        return name, f"shape {list(found)}; expected {list(expected)} (config.json)"
    if info.conversion_errors:
        name, error = sorted(info.conversion_errors.items())[0]
        return name, f"cannot be read as the model's ({str(error).splitlines()[0][:120]})"
    return None


def _torch_dtype(torch, name: str):
    """A .safetensors dtype as torch's (only the stand-in's dtype: no number is read)."""
    names = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
             "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "U16": "uint16", "U32": "uint32",
             "U64": "uint64", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
    return getattr(torch, names[name])


def _read_up_to(model, deepest: int, name: str) -> bool:
    """Whether the jobs read tensor `name` (the model's) when they go no deeper than layer `deepest`: what comes
    before that layer's last tensor in the model's own order (embeddings, layers 0..deepest), not a deeper
    layer's nor what follows the layers (a final norm, a head). A layer's tensors are those named <...>.<l>.<...>,
    l its first number (layers.3., h.3., encoder.layer.3.)."""
    order = list(model.state_dict())
    last = max((i for i, key in enumerate(order) if _layer(key) == deepest), default=len(order) - 1)
    return name not in order or order.index(name) <= last


def _layer(key: str) -> int | None:
    found = re.search(r"(?:^|\.)(\d+)\.", key)
    return int(found.group(1)) if found else None
