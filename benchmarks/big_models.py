"""Real models' sizes: random-weight models with the exact shapes of public configs, run through the workflow.

    .venv/bin/python benchmarks/big_models.py [--models llama-3-8b llama-3-70b-4-layers] [--cache DIR]
                                              [--runs cold warm all] [--cores 2]
    .venv/bin/python benchmarks/big_models.py --models llama-3.1-405b --layers 1 --mlp 64 --vocab 1000 --runs warm

Writes each model once into --cache (default /tmp/attnpipe-bench, outside the repository: 15 GiB for the 8B
shape), as bf16 .safetensors shards with an index, tensor by tensor (randn x 0.02, seeded per tensor; peak
memory about one shard), beside config.json and a tokenizer made here: a byte-level BPE trained offline on a
few sentences, as GPT-2's, with a begin-of-text token in front as Llama-3's tokenizer puts it (its vocab is a
few hundred ids; the ids stay within the model's 128,256). A folder already written with the same shape is
reused. --layers/--mlp/--vocab change the shape (a wide model of small depth, to try a width quickly).

Then, in a temporary copy of the workflow, `snakemake numeric` for the deepest layer x one 11-token prompt:
  cold   the model's files dropped from the page cache first (posix_fadvise DONTNEED, this model's files only)
  warm   the same again in a fresh copy, the files now in the page cache
  all    `layers: all`, warm
and prints per run the wall time, the peak resident memory of the whole job tree (Snakemake and every process
it starts, sampled every 20 ms) and the size of results/.
Targets (issue 25): 8B layer 31 peak <= 3 GiB, warm wall <= 3 min, results/ <= 400 MB; 70B-wide layer 3 peak
<= 8 GiB.
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from resources import run_measured
from workdir import copy_workflow

# name -> the public config.json's shapes (Llama-3: rope_theta 500000, rms_norm_eps 1e-5, no biases)
SHAPES = {
    "llama-3-8b": {"layers": 32, "width": 4096, "mlp": 14336, "heads": 32, "kv_heads": 8, "vocab": 128256,
                   "positions": 8192},
    # Meta-Llama-3-70B's widths, 4 of its 80 layers
    "llama-3-70b-4-layers": {"layers": 4, "width": 8192, "mlp": 28672, "heads": 64, "kv_heads": 8,
                             "vocab": 128256, "positions": 8192},
    "llama-3.1-405b": {"layers": 126, "width": 16384, "mlp": 53248, "heads": 128, "kv_heads": 8, "vocab": 128256,
                       "positions": 131072, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0,
                                                             "high_freq_factor": 4.0, "rope_type": "llama3",
                                                             "original_max_position_embeddings": 8192}},
}
PROMPT = "the cat sat on the mat and the dog sat"  # 10 words: 11 tokens with the begin-of-text token
BOS = "<|begin_of_text|>"
CORPUS = [PROMPT, "the dog sat in the sun", "a cat looked at a bird on the mat", "the snow fell on the town"] * 30
SHARD_BYTES = 500 * 2**20
MARKER = "attnpipe-bench.json"  # written last: the folder is whole and has these shapes


def tensors(shape: dict) -> list[tuple[str, tuple]]:
    """(name, shape) of every tensor of a LlamaForCausalLM, in the order of its layers."""
    d, mlp, hd = shape["width"], shape["mlp"], shape["width"] // shape["heads"]
    kv = shape["kv_heads"] * hd
    out = [("model.embed_tokens.weight", (shape["vocab"], d))]
    for i in range(shape["layers"]):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (d,)), (p + "self_attn.q_proj.weight", (d, d)),
                (p + "self_attn.k_proj.weight", (kv, d)), (p + "self_attn.v_proj.weight", (kv, d)),
                (p + "self_attn.o_proj.weight", (d, d)), (p + "post_attention_layernorm.weight", (d,)),
                (p + "mlp.gate_proj.weight", (mlp, d)), (p + "mlp.up_proj.weight", (mlp, d)),
                (p + "mlp.down_proj.weight", (d, mlp))]
    return out + [("model.norm.weight", (d,)), ("lm_head.weight", (shape["vocab"], d))]


def shards(plan: list[tuple[str, tuple]]) -> list[list[tuple[str, tuple]]]:
    """Consecutive tensors grouped into shards of at most SHARD_BYTES (bf16), a bigger tensor alone."""
    groups, size = [[]], 0
    for name, dims in plan:
        nbytes = 2 * math.prod(dims)
        if groups[-1] and size + nbytes > SHARD_BYTES:
            groups.append([])
            size = 0
        groups[-1].append((name, dims))
        size += nbytes
    return groups


def random_tensor(name: str, dims: tuple, seed: int):
    """randn x 0.02 in bf16 (norm weights: ones), made in row blocks so a float32 copy of it is never whole."""
    import torch

    if name.endswith("layernorm.weight") or name == "model.norm.weight":
        return torch.ones(dims, dtype=torch.bfloat16)
    out = torch.empty(dims, dtype=torch.bfloat16)
    gen = torch.Generator().manual_seed(seed)
    step = max(1, 2**24 // dims[1])
    for start in range(0, dims[0], step):
        block = out[start:start + step]
        block.copy_(torch.randn(block.shape, generator=gen).mul_(0.02))
    return out


def config_json(shape: dict) -> dict:
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": shape["width"],
           "intermediate_size": shape["mlp"], "num_hidden_layers": shape["layers"],
           "num_attention_heads": shape["heads"], "num_key_value_heads": shape["kv_heads"],
           "vocab_size": shape["vocab"], "max_position_embeddings": shape["positions"], "rope_theta": 500000.0,
           "rms_norm_eps": 1e-5, "hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
           "tie_word_embeddings": False, "torch_dtype": "bfloat16", "bos_token_id": 0, "eos_token_id": 0}
    if "rope_scaling" in shape:
        cfg["rope_scaling"] = shape["rope_scaling"]
    return cfg


def write_tokenizer(folder: Path) -> None:
    """A byte-level BPE (as GPT-2's, 'Ġcat'), trained here on CORPUS, with BOS in front of every text."""
    import tokenizers
    import transformers

    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=400, special_tokens=[BOS],
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = tokenizers.processors.TemplateProcessing(single=f"{BOS} $A", special_tokens=[(BOS, 0)])
    if len(tok.encode(PROMPT).ids) != 11:
        sys.exit(f"the tokenizer makes {len(tok.encode(PROMPT).ids)} tokens of {PROMPT!r}, expected 11")
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=BOS).save_pretrained(folder)


def write_model(folder: Path, shape: dict) -> float:
    """The model folder (seconds spent writing it; 0 when a whole one with this shape is there)."""
    marker = folder / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == shape:
        return 0.0
    from safetensors.torch import save_file

    need = sum(2 * math.prod(dims) for _, dims in tensors(shape))
    free = shutil.disk_usage(folder.parent if folder.parent.exists() else "/").free
    if need > free:
        sys.exit(f"{folder}: the model needs {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free")
    start = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config_json(shape), indent=2))
    write_tokenizer(folder)
    groups = shards(tensors(shape))
    weight_map, seed = {}, 0
    for i, group in enumerate(groups, 1):
        name = f"model-{i:05d}-of-{len(groups):05d}.safetensors"
        tensors_here = {}
        for tensor_name, dims in group:
            seed += 1
            tensors_here[tensor_name] = random_tensor(tensor_name, dims, seed)
            weight_map[tensor_name] = name
        save_file(tensors_here, folder / name, metadata={"format": "pt"})
        del tensors_here
    index = {"metadata": {"total_size": need}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    marker.write_text(json.dumps(shape))
    return time.perf_counter() - start


def drop_from_page_cache(folder: Path) -> None:
    """This model's files out of the page cache (their pages are clean: nothing else on the machine is touched)."""
    for path in folder.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def run_workflow(name: str, folder: Path, shape: dict, layers, cores: int) -> dict:
    """`snakemake numeric` in a fresh temporary copy of the workflow; figures of the run."""
    setting = {"model": name, "layer": shape["layers"] - 1} if layers is None else {"model": name, "layers": layers}
    config = {"models": {name: {"path": str(folder)}}, "weights": {name: setting},
              "prompts": [{"id": "cat", "text": PROMPT}]}
    with tempfile.TemporaryDirectory() as tmp:
        wd = copy_workflow(Path(tmp) / "wf", config)
        cmd = [sys.executable, "-m", "snakemake", "numeric", "--cores", str(cores)]
        figures = run_measured(cmd, wd)
        figures["results_mb"] = folder_mb(wd / "results")
        figures["largest"] = sorted(((p.stat().st_size / 1e6, str(p.relative_to(wd / "results")))
                                     for p in (wd / "results").rglob("*") if p.is_file()), reverse=True)[:4]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["llama-3-8b", "llama-3-70b-4-layers"], choices=list(SHAPES))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "attnpipe-bench")
    parser.add_argument("--runs", nargs="*", default=["cold", "warm", "all"], choices=["cold", "warm", "all"],
                        help="none: only write the models")
    parser.add_argument("--cores", type=int, default=2)
    for key in ("layers", "mlp", "vocab"):
        parser.add_argument(f"--{key}", type=int, help=f"change the shape's {key} (a quick try, not the public one)")
    args = parser.parse_args()
    for name in args.models:
        shape = {**SHAPES[name], **{k: getattr(args, k) for k in ("layers", "mlp", "vocab") if getattr(args, k)}}
        folder = args.cache / name
        written = write_model(folder, shape)
        size = sum(p.stat().st_size for p in folder.glob("*.safetensors")) / 2**30
        print(f"{name}: {shape['layers']} layers, width {shape['width']}, MLP {shape['mlp']}, "
              f"{shape['heads']}/{shape['kv_heads']} heads, vocab {shape['vocab']}: {size:.1f} GiB bf16 in {folder}"
              + (f", written in {written:.0f} s" if written else " (already written)"))
        for run in args.runs:
            if run == "cold":
                drop_from_page_cache(folder)
            layers = "all" if run == "all" else None
            if run == "all" and shape["layers"] > 32:
                print(f"  {run}: skipped ({shape['layers']} layers)")
                continue
            f = run_workflow(name, folder, shape, layers, args.cores)
            what = "layers: all" if layers else f"layer {shape['layers'] - 1}"
            print(f"  {run:4} {what} x 11 tokens: wall {f['wall_s']:.1f} s, peak RSS {f['rss_mb'] / 1024:.2f} GiB "
                  f"(job tree), CPU {f['cpu_s']:.0f} s, results/ {f['results_mb']:.0f} MB; largest: "
                  + ", ".join(f"{path} {mb:.0f} MB" for mb, path in f["largest"]))
        print(f"  load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)")


if __name__ == "__main__":
    main()
