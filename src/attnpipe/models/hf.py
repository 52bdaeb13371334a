"""Run a local Hugging Face model (transformers, offline) and read its attention layers out of it, streamed:
attnpipe.models.stream holds one weight at a time, so a layer of an 8B model runs in a few GB.

The attention input of a layer is caught with a forward pre-hook on the layer's attention module, so it is
exactly what that module reads: hidden_states[l] for BERT (post-LN), ln_1(hidden_states[l]) for GPT-2 and
input_layernorm(hidden_states[l]) for the Llama family (pre-norm); the Llama family's rotary cos/sin come from
the same hook. The model runs in float32 (bf16 and f16 weights convert exactly) with
attn_implementation="eager" and .eval() (no dropout), never from the network.
"""

import os
import threading
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model folder is all there is

# Numeric rules run as threads of one Snakemake process: one model forward at a time (transformers' lazy
# imports are not thread-safe, and each job declares the memory of one layer, not two).
_LOCK = threading.RLock()
_TOKENIZERS: dict = {}


def tokenizer(path: str):
    """The folder's tokenizer, reloaded when any file in it changes."""
    folder = Path(path)
    files = tuple((f.name, f.stat().st_mtime_ns) for f in sorted(folder.iterdir()) if f.is_file())
    key = (str(folder.resolve()), files)
    with _LOCK:
        from transformers import AutoTokenizer

        if key not in _TOKENIZERS:
            _TOKENIZERS.clear()
            _TOKENIZERS[key] = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        return _TOKENIZERS[key]


def forward(path: str, family: str, text: str, layers: list[int]) -> dict:
    """One forward pass over `text`, up to the deepest of `layers`: its tokens as the tokenizer writes them,
    each of those layers' attention input (layer -> (T, d)) and, for rotary models, cos and sin (T, head_dim)
    as the attention layers receive them."""
    from . import stream

    with _LOCK:
        tok = tokenizer(path)
        encoded = tok(text, return_tensors="pt")
        run = stream.forward(path, family, dict(encoded), layers)
    result = {"tokens": tok.convert_ids_to_tokens(encoded["input_ids"][0].tolist()),
              "attention_inputs": run["attention_inputs"]}
    if "rope" in run:
        result["rope_cos"], result["rope_sin"] = run["rope"]
    return result


def layer_weights(path: str, family: str, layer: int) -> dict:
    """role -> (W (d_model, d_out) for y = x @ W + b, b (d_out,) or None): that layer's Q, K and V only."""
    from . import stream

    with _LOCK:
        return stream.attention_weights(path, family, layer)
