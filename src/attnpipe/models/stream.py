"""A model's forward pass that holds one weight at a time: transformers' own model, its parameters on the meta
device (no memory), each module's weights read from the folder's files when the module runs and dropped when
it returns.

The maths is the model's own: its forward (embeddings, masks: causal, Mistral/Qwen2 sliding windows, BERT's
padding-free one; rotary cos/sin from its rotary module) runs unchanged. Only the weights come late:
- every nn.Embedding becomes a RowsEmbedding, which reads just the rows it is asked for (the prompt's tokens,
  its positions), never the whole table;
- every other module that holds parameters gets them just before it runs (load_state_dict(strict=True,
  assign=True) of exactly its tensors, so a tensor the folder lacks is an error naming it, never a fresh
  random one) and gives them back to the meta device as it returns;
- the forward stops at the attention input of the deepest layer asked for: nothing after it is read.
Weights are copied to float32 as they are read (bf16 and f16 convert exactly), so no tensor keeps a shard
mapped (safetensors #355, transformers #34366); .bin files are mapped with torch.load(mmap=True,
weights_only=True) and their tensors copied the same way.
"""

import contextlib
import ctypes
import ctypes.util
import threading
from pathlib import Path

import torch
from torch import nn

from .families import FAMILIES
from .weightfiles import WeightFileError, WeightFiles

# Checkpoint names a module's parameters may have besides their own: older BERT files name LayerNorm's
# weight and bias gamma and beta (transformers reads them so too).
LEGACY = {".weight": ".gamma", ".bias": ".beta"}
_SKELETON_LOCK = threading.Lock()  # params_on_meta patches nn.Module for every thread


class _Deepest(Exception):
    """Raised once the deepest layer's attention input is caught: the forward has nothing more to do."""


class Source:
    """A model folder's tensors under the names the model's modules give them (with or without the model's
    prefix: `model.layers.0.` or `layers.0.`, `transformer.h.0.`, `bert.encoder.`), read as float32 copies."""

    def __init__(self, folder, prefix: str):
        self.files = WeightFiles(folder)
        # the model's prefix first where the folder's names have it (a missing tensor is named as they name it)
        prefixed = any(name.startswith(f"{prefix}.") for name in self.files.names())
        self.prefixes = [f"{prefix}.", ""] if prefixed else ["", f"{prefix}."]

    def key(self, name: str) -> str:
        stem, _, last = name.rpartition(".")
        names = [name] + ([stem + LEGACY["." + last]] if "." + last in LEGACY else [])
        candidates = [prefix + n for n in names for prefix in self.prefixes]
        for key in candidates:
            if self.files.find(key):
                return key
        self.files.entry(candidates[0])  # raises: no such tensor, one line naming the files
        raise AssertionError(candidates[0])

    def read(self, name: str, rows=None) -> torch.Tensor:
        """The tensor as a float32 copy; rows: only these rows (a sorted list of ints)."""
        key = self.key(name)
        entry = self.files.entry(key)
        try:
            if entry.file.suffix == ".bin":
                tensors = torch.load(entry.file, map_location="cpu", mmap=True, weights_only=True)
                stored = tensors[key] if rows is None else tensors[key][rows]
                del tensors
                return stored.to(torch.float32, copy=True)
            from safetensors import safe_open

            with safe_open(entry.file, framework="pt") as fh:
                if rows is None:
                    return fh.get_tensor(key).to(torch.float32, copy=True)
                part = fh.get_slice(key)
                return torch.cat([part[i:i + 1].to(torch.float32, copy=True) for i in rows])
        except (OSError, RuntimeError, ValueError) as exc:  # the header was read; the data is what failed
            raise WeightFileError(f"{entry.file}: cannot read tensor {key!r} ({_first_line(exc)}); expected the "
                                  "file as it was saved") from None


class RowsEmbedding(nn.Module):
    """An nn.Embedding whose table stays in the file: each call reads the rows of the ids it is given."""

    def __init__(self, source: Source, name: str, embedding: nn.Embedding):
        super().__init__()
        self.source, self.name, self.num_embeddings = source, name, embedding.num_embeddings

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.numel() and not 0 <= int(ids.min()) <= int(ids.max()) < self.num_embeddings:
            raise ValueError(f"{self.name}: ids outside 0..{self.num_embeddings - 1}")
        wanted, inverse = torch.unique(ids, return_inverse=True)
        return self.source.read(self.name, rows=wanted.tolist())[inverse]


@contextlib.contextmanager
def params_on_meta():
    """Modules made inside get their parameters on the meta device as they are registered (their init runs on
    no memory); buffers (rotary inv_freq, BERT's position_ids) are made as usual, by the modules' own code."""
    register = nn.Module.register_parameter

    def on_meta(module, name, param):
        register(module, name, param)
        if param is not None:
            module._parameters[name] = nn.Parameter(param.to("meta"), requires_grad=False)

    with _SKELETON_LOCK:
        nn.Module.register_parameter = on_meta
        try:
            yield
        finally:
            nn.Module.register_parameter = register


def skeleton(folder):
    """transformers' model of the folder (AutoModel: the base model, eager attention, float32, eval) with every
    parameter on the meta device, and the Source of its tensors."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    with params_on_meta():
        model = AutoModel.from_config(config, attn_implementation="eager", dtype=torch.float32).eval()
    return model, Source(folder, model.base_model_prefix)


def stream_weights(model: nn.Module, source: Source) -> list:
    """Make `model` read its weights as it runs: embeddings by rows, every other module's parameters for the
    length of its call. Returns the hooks (remove them when done)."""
    hooks = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Embedding):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, RowsEmbedding(source, f"{name}.weight", module))
        elif module._parameters:
            if any(p is not None for child in module.children() for p in child.parameters()):
                raise NotImplementedError(f"{name}: a module with weights of its own and in its children")
            hooks.append(module.register_forward_pre_hook(_loader(source, name)))
            hooks.append(module.register_forward_hook(_unloader))
    return hooks


def load_module(module: nn.Module, source: Source, name: str) -> None:
    """Exactly the module's tensors, from the folder (strict: one it lacks is an error, never a random init)."""
    state = {}
    for key, value in module.state_dict().items():
        full = f"{name}.{key}" if name else key
        if key in module._parameters:
            state[key] = source.read(full)
        else:  # a persistent buffer: the folder's where it has one, else the module's own
            state[key] = source.read(full) if _has(source, full) else value
    module.load_state_dict(state, strict=True, assign=True)


def unload_module(module: nn.Module) -> None:
    for key, param in module._parameters.items():
        if param is not None:
            module._parameters[key] = nn.Parameter(param.to("meta"), requires_grad=False)
    _trim()


def _libc_trim():
    """glibc's malloc_trim, or a no-op elsewhere. glibc keeps freed blocks under its mmap threshold (which grows
    to 32 MB after the first big free) in the heap: without a trim, a width-1024 model's 16 MB weights, each
    freed, raised the resident size by 250 MB over 8 layers (633 MB peak against 420 MB with it)."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    return (lambda: trim(0)) if trim else (lambda: None)


_trim = _libc_trim()


def _loader(source, name):
    def load(module, args):
        load_module(module, source, name)
    return load


def _unloader(module, args, output):
    unload_module(module)


def _has(source, name) -> bool:
    try:
        source.key(name)
        return True
    except WeightFileError:
        return False


def forward(folder, family: str, encoded: dict, layers: list[int]) -> dict:
    """The model's forward over `encoded` (the tokenizer's output, batch of one) up to the attention input of
    the deepest of `layers`: layer -> attention input (T, d_model), and for rotary models the cos and sin
    (T, head_dim) its attention layers receive ("rope")."""
    model, source = skeleton(Path(folder))
    caught, rope = {}, []
    deepest = max(layers)

    def catcher(layer):
        def catch(module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            caught[layer] = hidden[0].detach().clone()
            if not rope and kwargs.get("position_embeddings") is not None:
                cos, sin = kwargs["position_embeddings"]
                rope.append((cos[0].detach().clone(), sin[0].detach().clone()))
            if layer == deepest:
                raise _Deepest
        return catch

    hooks = stream_weights(model, source)
    hooks += [model.get_submodule(FAMILIES[family].attention.format(layer)).register_forward_pre_hook(
        catcher(layer), with_kwargs=True) for layer in sorted(set(layers))]
    try:
        with torch.no_grad():
            model(**encoded, use_cache=False)
    except _Deepest:
        pass
    finally:
        for hook in hooks:
            hook.remove()
    result = {"attention_inputs": {layer: caught[layer] for layer in sorted(set(layers))}}
    if rope:
        result["rope"] = rope[0]
    return result


def attention_weights(folder, family: str, layer: int) -> dict:
    """The Q, K, V projections of one attention layer, nothing else read: role -> (W (d_model, d_out) for
    y = x @ W + b, b (d_out,) or None)."""
    model, source = skeleton(Path(folder))
    prefix, names = FAMILIES[family].attention.format(layer), FAMILIES[family].projections
    attention = model.get_submodule(prefix)
    if names is None:  # GPT-2's Conv1D: weight is already (d_in, d_out), Q, K and V fused along the last axis
        load_module(attention.c_attn, source, f"{prefix}.c_attn")
        w, b = attention.c_attn.weight.detach(), attention.c_attn.bias.detach()
        width = w.shape[1] // 3
        return {role: (w[:, i * width:(i + 1) * width].clone(), b[i * width:(i + 1) * width].clone())
                for i, role in enumerate(("query", "key", "value"))}
    result = {}
    for role, child in zip(("query", "key", "value"), names):
        linear = getattr(attention, child)  # nn.Linear stores W.T
        load_module(linear, source, f"{prefix}.{child}")
        bias = linear.bias.detach() if linear.bias is not None else None
        result[role] = (linear.weight.detach().T, bias)
    return result


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
