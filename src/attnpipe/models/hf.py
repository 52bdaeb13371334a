"""Run a local Hugging Face model (transformers, offline) and read its attention layers out of it.

The attention input of every layer is caught with a forward pre-hook on the layer's attention module, so it
is exactly what that module reads: hidden_states[l] for BERT (post-LN), ln_1(hidden_states[l]) for GPT-2
and input_layernorm(hidden_states[l]) for the Llama family (pre-norm); the Llama family's rotary cos/sin
come from the same hook. Models load in float32 with attn_implementation="eager" (the fused kernels
return no attention weights) and .eval() (no dropout), never from the network.
"""

import os
import threading
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model folder is all there is

# Numeric rules run as threads of one Snakemake process: load each model once, run one forward at a time
# (the hooks belong to the model, not to the call).
_LOCK = threading.RLock()
_LOADED: dict = {}


def load(path: str):
    """(model, tokenizer) of the folder, reloaded when any file in it changes."""
    folder = Path(path)
    files = tuple((f.name, f.stat().st_mtime_ns) for f in sorted(folder.iterdir()) if f.is_file())
    key = (str(folder.resolve()), files)
    with _LOCK:  # transformers' lazy imports are not thread-safe either
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if key not in _LOADED:
            hf_logging.disable_progress_bar()
            model = AutoModel.from_pretrained(folder, attn_implementation="eager", local_files_only=True,
                                              dtype=torch.float32).eval()
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            _LOADED.clear()  # one model in memory at a time
            _LOADED[key] = (model, tokenizer)
        return _LOADED[key]


def attention_modules(model, family: str) -> list:
    if family == "bert":
        return [layer.attention.self for layer in model.encoder.layer]
    if family == "gpt2":
        return [block.attn for block in model.h]
    return [layer.self_attn for layer in model.layers]


def forward(path: str, family: str, text: str) -> dict:
    """One forward pass over `text`: its tokens as the tokenizer writes them, every layer's attention input
    (layers, T, d) and, for rotary models, cos and sin (T, head_dim) as the attention layers receive them."""
    model, tokenizer = load(path)
    caught: dict[int, tuple] = {}

    def catcher(index):
        def catch(module, args, kwargs):  # returns None: the call goes on unchanged
            hidden = args[0] if args else kwargs["hidden_states"]
            caught[index] = (hidden[0].detach().clone(), kwargs.get("position_embeddings"))
        return catch

    with _LOCK:
        modules = attention_modules(model, family)
        hooks = [m.register_forward_pre_hook(catcher(i), with_kwargs=True) for i, m in enumerate(modules)]
        encoded = tokenizer(text, return_tensors="pt")
        try:
            with torch.no_grad():
                model(**encoded)
        finally:
            for hook in hooks:
                hook.remove()
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0].tolist())
    inputs = torch.stack([caught[i][0] for i in range(len(modules))])
    rope = caught[0][1]
    result = {"tokens": tokens, "attention_inputs": inputs}
    if rope is not None:
        cos, sin = rope
        result["rope_cos"], result["rope_sin"] = cos[0].detach(), sin[0].detach()
    return result


def layer_weights(path: str, family: str, layer: int) -> dict:
    """role -> (W (d_model, d_out) for y = x @ W + b, b (d_out,) or None)."""
    model, _ = load(path)
    attention = attention_modules(model, family)[layer]
    if family == "gpt2":  # Conv1D: weight is already (d_in, d_out), Q, K and V fused along the last axis
        w, b = attention.c_attn.weight.detach(), attention.c_attn.bias.detach()
        width = w.shape[1] // 3
        return {role: (w[:, i * width:(i + 1) * width], b[i * width:(i + 1) * width])
                for i, role in enumerate(("query", "key", "value"))}
    names = {"bert": ("query", "key", "value"), "llama": ("q_proj", "k_proj", "v_proj")}[family]
    result = {}
    for role, name in zip(("query", "key", "value"), names):
        linear = getattr(attention, name)  # nn.Linear stores W.T
        bias = linear.bias.detach() if linear.bias is not None else None
        result[role] = (linear.weight.detach().T, bias)
    return result
