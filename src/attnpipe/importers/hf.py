"""attnpipe-import-hf: one attention layer of a local Hugging Face BERT-style model, as attnpipe inputs.

    attnpipe-import-hf --model DIR --layer L --prompt "the cat sat" [--prompt ...] --out DIR [--name NAME]

For each prompt it runs the model once (offline: HF_HUB_OFFLINE=1, local files only) and writes the
input of layer L, hidden_states[L] of output_hidden_states=True (embeddings incl. token-type and
position embeddings, after the previous layers), with the tokenizer's tokens ([CLS] ... [SEP]) as
labels; and layer L's query/key/value weights, transposed to attnpipe's y = x @ W (nn.Linear stores
W.T), and their biases. All files are .safetensors; the hidden states carry their tokens in the
metadata. OUT/config.yaml is a ready config (prompts + one weight setting, heads =
num_attention_heads, scale 1/sqrt(d_head), as BERT) that runs as is or pastes into another.
Needs the `hf` extra: pip install 'attnpipe[hf]'.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from ..tokens import derive_id

ROLES = ("query", "key", "value")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub: the model folder is all there is
    try:
        import torch
        from safetensors.torch import save_file
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        return _fail(f"needs the hf extra (pip install 'attnpipe[hf]'): {exc}")
    hf_logging.disable_progress_bar()
    model_dir = Path(args.model)
    if not (model_dir / "config.json").is_file():
        return _fail(f"--model {model_dir}: expected a Hugging Face model folder with a config.json")
    # eager: the fused attention kernels return no attention weights; eval(): no attention dropout
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager", local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    try:
        attention = model.encoder.layer[args.layer].attention.self
        linears = {role: getattr(attention, role) for role in ROLES}
    except (AttributeError, IndexError, TypeError):
        layers = len(getattr(getattr(model, "encoder", None), "layer", []))
        return _fail(
            f"--layer {args.layer}: expected a BERT-style model with encoder.layer[{args.layer}].attention.self."
            f"query/key/value; {type(model).__name__} has {layers} such layers"
        )
    if args.layer < 0:
        return _fail(f"--layer {args.layer}: expected 0 ... {len(model.encoder.layer) - 1}")
    heads = model.config.num_attention_heads
    name = args.name or derive_id(model_dir.resolve().name)
    out = Path(args.out)
    setting = f"{name}-layer{args.layer}"
    files = {}
    for role, linear in linears.items():
        for kind, tensor in (("w", linear.weight.detach().T), ("b", linear.bias.detach())):
            path = out / f"{setting}.{kind}_{role}.safetensors"
            _save(save_file, {f"{kind}_{role}": tensor}, path, {"model": str(model_dir), "layer": str(args.layer)})
            files[f"{kind}_{role}"] = str(path)

    prompts = []
    for text in args.prompt:
        encoded = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            result = model(**encoded, output_hidden_states=True)
        tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0].tolist())
        pid = f"{derive_id(text)}-layer{args.layer}"
        path = out / f"{pid}.hidden_states.safetensors"
        metadata = {"tokens": json.dumps(tokens), "model": str(model_dir), "layer": str(args.layer), "text": text}
        _save(save_file, {"hidden_states": result.hidden_states[args.layer][0]}, path, metadata)
        prompts.append({"id": pid, "text": text, "tokens": tokens, "hidden_states": {"file": str(path)}})

    config = {
        "prompts": prompts,
        "weights": {
            setting: {
                **{role: {"file": files[f"w_{role}"]} for role in ROLES},
                "bias": {role: {"file": files[f"b_{role}"]} for role in ROLES},
                "attention": {"heads": heads, "scale": "1/sqrt(d_head)"},
            }
        },
    }
    header = (
        f"# attnpipe config from {model_dir}, layer {args.layer} (written by attnpipe-import-hf).\n"
        "# File paths are relative to the folder the importer ran in: run Snakemake there, e.g.\n"
        f"#   snakemake --configfile {out / 'config.yaml'} --replace-workflow-config --cores 4\n"
        "# or paste `prompts` and `weights` into a config whose other prompts and settings have the same width.\n"
    )
    (out / "config.yaml").write_text(header + _yaml(config), encoding="utf-8")
    print(out / "config.yaml")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnpipe-import-hf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True,
                        help="a local Hugging Face model folder (config.json, weights, tokenizer)")
    parser.add_argument("--layer", required=True, type=int, help="the attention layer, 0-based")
    parser.add_argument("--prompt", required=True, action="append", help="prompt text (repeat for several)")
    parser.add_argument("--out", required=True, help="folder for the .safetensors files and config.yaml")
    parser.add_argument("--name", help="the weight setting's name prefix (default: the model folder's name)")
    return parser


def _yaml(config: dict) -> str:
    # leaf mappings and lists on one line each: {file: ...}, [tokens]
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)


def _save(save_file, tensors: dict, path: Path, metadata: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)


def _fail(message: str) -> int:
    print(f"attnpipe-import-hf: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
