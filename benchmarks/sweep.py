"""Time the numeric sweep (all stages but render) on a grid of prompts x weight settings (default 30 x 30).

    .venv/bin/python benchmarks/sweep.py [--prompts 30] [--weights 30] [--cores 2]

Prints, for a fresh copy of the workflow in a temporary folder: the dry run, the full numeric sweep
and the no-op rerun, in seconds and seconds per combination, against the targets (full sweep
< 0.3 s per combination, no-op < 1.5 x a bare `python -c "import torch, pandas"`, timed alternately
with the no-op reruns so both see the same load; the ratio in wall time, and in CPU seconds, which moves
less with other work on a shared machine) and against what a one-process-per-job design would spend on
start-up alone (that same import, once per job).
"""

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from workdir import REPO, copy_workflow, read_config


def grid_config(n_prompts: int, n_weights: int) -> dict:
    cfg = read_config(REPO)
    rng = np.random.default_rng(0)
    cfg["prompts"] = ["".join(map(str, rng.integers(0, 10, rng.integers(3, 13)))) for _ in range(n_prompts)]
    cfg["prompts"] = [f"{p}{i}" for i, p in enumerate(cfg["prompts"])]  # unique ids
    kinds = [
        lambda i: {"shared": rng.integers(-3, 4, (3, 3)).tolist(), "attention": {"scale": "none"}},
        lambda i: {"shared": "identity", "attention": {"causal": True}},
        lambda i: {k: {"random": {"seed": 3 * i + j}} for j, k in enumerate(["query", "key", "value"])},
        lambda i: {k: {"random": {"seed": 3 * i + j, "shape": [3, 6]}} for j, k in enumerate(["query", "key", "value"])}
        | {"attention": {"heads": 3, "causal": True}},
    ]
    cfg["weights"] = {f"w{i:02d}": kinds[i % len(kinds)](i) for i in range(n_weights)}
    return cfg


def cpu_seconds() -> float:
    """User + system CPU time of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd, cwd, cpu: list | None = None) -> float:
    """Wall seconds of `cmd`; its CPU seconds are appended to `cpu` (if given)."""
    start, cpu_start = time.perf_counter(), cpu_seconds()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    if cpu is not None:
        cpu.append(cpu_seconds() - cpu_start)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=30)
    parser.add_argument("--weights", type=int, default=30)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    combos = args.prompts * args.weights

    bare_import = [sys.executable, "-c", "import torch, pandas"]
    with tempfile.TemporaryDirectory() as tmp:
        wd = copy_workflow(Path(tmp), grid_config(args.prompts, args.weights))
        smk = [sys.executable, "-m", "snakemake", "numeric", "--cores", str(args.cores)]  # no videos
        dry = timed([*smk, "-n"], wd)
        full = timed(smk, wd)
        noops, imports, noop_cpu, import_cpu = [], [], [], []
        for _ in range(3):  # side by side: on a shared machine the load changes from minute to minute
            noops.append(timed(smk, wd, noop_cpu))
            imports.append(timed(bare_import, REPO, import_cpu))
        files = sum(1 for _ in (wd / "results").rglob("*.*"))

    startup = statistics.median(imports)
    jobs = args.prompts + args.weights + 2 * combos
    naive = jobs * startup / args.cores
    print(f"grid: {args.prompts} prompts x {args.weights} weight settings = {combos} combinations, "
          f"{jobs} jobs, {files} stage files, --cores {args.cores}")
    print(f"dry run         {dry:8.2f} s   {dry / combos:.4f} s/combination")
    print(f"full sweep      {full:8.2f} s   {full / combos:.4f} s/combination   target < 0.3   "
          f"({full / combos / 0.3:.2f} of target)")
    noop = statistics.median(noops)
    ratio = statistics.median(n / i for n, i in zip(noops, imports))
    print(f"no-op rerun     {noop:8.2f} s   runs: {', '.join(f'{t:.2f}' for t in noops)}")
    print(f"import torch, pandas {startup:.2f} s   runs: {', '.join(f'{t:.2f}' for t in imports)}")
    print(f"no-op / import  {ratio:8.2f}     target < 1.5   (median of the side-by-side pairs)")
    # CPU time moves less than wall time with other work on the machine: the same ratio in CPU seconds
    cpu_ratio = statistics.median(n / i for n, i in zip(noop_cpu, import_cpu))
    print(f"in CPU seconds  {cpu_ratio:8.2f}     no-op {', '.join(f'{t:.2f}' for t in noop_cpu)}; "
          f"import {', '.join(f'{t:.2f}' for t in import_cpu)}")
    print(f"one-process-per-job start-up alone: {startup:.2f} s/job -> {naive:.0f} s for this grid "
          f"({naive / combos:.2f} s/combination); the threaded sweep is {naive / full:.1f}x faster")


if __name__ == "__main__":
    main()
