"""Time the numeric sweep (all stages but render) on a grid of prompts x weight settings (default 30 x 30),
and its no-op rerun against Snakemake's own floor.

    .venv/bin/python benchmarks/sweep.py [--prompts 30] [--weights 30] [--cores 2] [--repeats 3] [--quick]

Prints, for a fresh copy of the workflow in a temporary folder: the dry run and the full numeric sweep, in seconds
and seconds per combination (target: full sweep < 0.3 s per combination), and the no-op rerun against a *bare*
Snakefile written from the same grid, as plainly as Snakemake is written: the same DAG (rules embed per prompt,
weights per setting, project and attend per combination, summary with heads.csv over the sweep), the same output and
log files per job (paths from attnpipe.store.layout, log patterns read from the .smk rules) as string patterns and
expand(), `shell: "touch {output} {log}"`, the same profile settings bar the logger, and no imports, config, params,
input functions or constraints listing the names. Both are run fully once (the two results/ must hold the same
files), then their no-op reruns are timed alternately, so both see the same load; the target is attnpipe's no-op at
most 1.15 x the bare one's (median of the side-by-side pairs, in wall and in CPU seconds, which moves less with
other work on a shared machine). The old target, 1.5 x a bare `python -c "import torch, pandas"`, is retired (issue
20): Snakemake's own no-op on this DAG is already ~2.3 x that import.
`--quick` is a 5 x 5 grid, to check the script itself in a minute.

Where attnpipe's extra time over the bare Snakefile goes (cProfile, 30 x 30): making the jobs (Snakemake inspects
and calls the input and params functions per job and turns what they return into file objects then), the code
versions (attnpipe.store.provenance, ~0.3 s) and the config checks (~0.2 s); the logger and executor plugins (pandas,
through the SLURM one) are imported for the bare Snakefile too. The README's Speed section has the figures.
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from workdir import REPO, copy_workflow, read_config

from attnpipe.store import layout

TARGET = 1.15  # attnpipe's no-op / the bare Snakefile's
SUMMARY_OUTPUTS = {"table": layout.SUMMARY_CSV, "page": layout.SUMMARY_HTML, "heads": layout.HEADS_CSV}
# the rules' path patterns, as workflow/rules/common.smk builds them
PROMPT = layout.embeddings_dir("{prompt}")
SETTING = layout.weights_dir("{weights}")
COMBINATION = layout.combination_dir("{weights}", "{prompt}")


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


def rule_log(rule: str) -> str:
    """The `log:` pattern of a rule in workflow/rules/*.smk, so the bare Snakefile's jobs write the same logs."""
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        block = re.search(rf"^rule {rule}:\n(.*?)(?=^\S|\Z)", smk.read_text(), re.M | re.S)
        if block and (log := re.search(r'^    log:\n\s+"([^"]+)"', block.group(1), re.M)):
            return log.group(1)
    sys.exit(f"no log: found for rule {rule} in workflow/rules/*.smk")


def bare_snakefile(prompts: list[str], weights: list[str]) -> str:
    """A plain Snakefile with attnpipe's numeric DAG for these names, doing no work but touching its files: string
    path patterns and expand(), `shell: "touch {output} {log}"` rules with the same outputs and log files, no
    imports, no input functions, no params, no constraint listing the names. Snakemake's own floor."""

    def patterns(directory: str, stage: str) -> list[str]:
        return list(layout.stage_files(directory, stage).values())

    def rule(name: str, outputs: list[str], inputs: str = "") -> str:
        listed = "".join(f"        {path!r},\n" for path in outputs)
        return (f"rule {name}:\n{inputs}    output:\n{listed}    log:\n        {rule_log(name)!r},\n"
                f"    shell:\n        'touch {{output}} {{log}}'\n\n\n")

    stage_file = layout.stage_file
    summary = list(SUMMARY_OUTPUTS.values())
    numeric = [*patterns(PROMPT, "embed"), *patterns(SETTING, "weights"), *patterns(COMBINATION, "project"),
               *patterns(COMBINATION, "attend")]
    return (
        "# Written by benchmarks/sweep.py: attnpipe's numeric DAG with no work, for Snakemake's own no-op floor.\n"
        f"PROMPTS = {prompts!r}\nWEIGHTS = {weights!r}\n\n"
        # the names are path components: a wildcard takes no "/" (Snakemake's own default takes any)
        "wildcard_constraints:\n    prompt='[^/]+',\n    weights='[^/]+',\n\n\n"
        f"rule numeric:\n    input:\n        expand({numeric!r}, prompt=PROMPTS, weights=WEIGHTS),\n"
        f"        {summary[0]!r},\n        {summary[2]!r},\n\n\n"
        + rule("embed", patterns(PROMPT, "embed"))
        + rule("weights", patterns(SETTING, "weights"))
        + rule("project", patterns(COMBINATION, "project"),
               f"    input:\n        {stage_file(PROMPT, 'embed')!r},\n        {stage_file(SETTING, 'weights')!r},\n")
        + rule("attend", patterns(COMBINATION, "attend"),
               f"    input:\n        {stage_file(COMBINATION, 'project')!r},\n")
        + rule("summary", summary,
               f"    input:\n        expand({stage_file(PROMPT, 'embed')!r}, prompt=PROMPTS),\n"
               f"        expand({stage_file(COMBINATION, 'attend')!r}, prompt=PROMPTS, weights=WEIGHTS),\n")
    )


def bare_workflow(dest: Path, cfg: dict) -> Path:
    """The bare Snakefile in `dest`, with attnpipe's default profile less its logger (which is attnpipe's)."""
    dest.mkdir(parents=True)
    prompts = [p if isinstance(p, str) else p["id"] for p in cfg["prompts"]]
    (dest / "Snakefile").write_text(bare_snakefile(prompts, list(cfg["weights"])))
    profile = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    profile.pop("logger", None)
    (dest / "profiles/default").mkdir(parents=True)
    (dest / "profiles/default/config.yaml").write_text(yaml.safe_dump(profile))
    return dest


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


def result_files(wd: Path) -> set[str]:
    return {str(p.relative_to(wd)) for p in (wd / "results").rglob("*") if p.is_file()}


def runs(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=30)
    parser.add_argument("--weights", type=int, default=30)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="no-op pairs (bare, attnpipe) timed alternately")
    parser.add_argument("--quick", action="store_true", help="a 5 x 5 grid: checks the script, not the speed")
    args = parser.parse_args()
    if args.quick:
        args.prompts = args.weights = 5
    combos = args.prompts * args.weights
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory() as tmp:
        cfg = grid_config(args.prompts, args.weights)
        wd = copy_workflow(Path(tmp) / "attnpipe", cfg)
        bare = bare_workflow(Path(tmp) / "bare", cfg)
        smk = [sys.executable, "-m", "snakemake", "numeric", "--cores", str(args.cores)]  # no videos
        dry = timed([*smk, "-n"], wd)
        full = timed(smk, wd)
        bare_full = timed(smk, bare)
        files = result_files(wd)
        if files != result_files(bare):
            sys.exit(f"the bare Snakefile's results/ differ from attnpipe's: {sorted(files ^ result_files(bare))[:5]}")
        noops, bare_noops, noop_cpu, bare_cpu = [], [], [], []
        for _ in range(args.repeats):  # side by side: on a shared machine the load changes from minute to minute
            bare_noops.append(timed(smk, bare, bare_cpu))
            noops.append(timed(smk, wd, noop_cpu))
    load_after = os.getloadavg()

    jobs = args.prompts + args.weights + 2 * combos + 1
    print(f"grid: {args.prompts} prompts x {args.weights} weight settings = {combos} combinations, "
          f"{jobs} jobs, {len(files)} files in results/, --cores {args.cores}")
    print(f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after: "
          "on a loaded machine the times are upper bounds")
    print(f"dry run          {dry:8.2f} s   {dry / combos:.4f} s/combination")
    print(f"full sweep       {full:8.2f} s   {full / combos:.4f} s/combination   target < 0.3   "
          f"({full / combos / 0.3:.2f} of target)   bare Snakefile {bare_full:.2f} s")
    print(f"no-op, bare      {statistics.median(bare_noops):8.2f} s   runs: {runs(bare_noops)}")
    print(f"no-op, attnpipe  {statistics.median(noops):8.2f} s   runs: {runs(noops)}")
    ratio = statistics.median(n / b for n, b in zip(noops, bare_noops))
    print(f"attnpipe / bare  {ratio:8.2f}     target <= {TARGET}   (median of the side-by-side pairs)")
    cpu_ratio = statistics.median(n / b for n, b in zip(noop_cpu, bare_cpu))
    print(f"in CPU seconds   {cpu_ratio:8.2f}     attnpipe {runs(noop_cpu)}; bare {runs(bare_cpu)}")


if __name__ == "__main__":
    main()
