"""How planning time grows with the sweep: dry runs (`snakemake numeric -n`) of N prompts x 1 weight setting.

    .venv/bin/python benchmarks/planning.py [--prompts 200 2000]

For each N, on a fresh copy of the workflow: the dry run with profiles/default (a local run) and with
profiles/slurm (the cluster profile, whose groups Snakemake checks while planning; a dry run submits
nothing, so no cluster is needed). Prints seconds, jobs planned, seconds per 1,000 jobs, and the ratio of
the largest N's time to the smallest's beside the ratio of their sizes (linear growth: the two agree).
With the `group:` lines in the rules (before issue 21) 800 prompts took 66 s and 2,000 over 17 minutes.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sweep import grid_config
from workdir import copy_workflow

PROFILES = {"local": [], "slurm": ["--workflow-profile", "profiles/slurm"]}


def dry_run(folder: Path, extra: list[str]) -> tuple[float, int]:
    """Wall seconds of `snakemake numeric -n`, and the jobs it planned."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "numeric", "-n", "--cores", "2", *extra], cwd=folder,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"dry run failed:\n{proc.stderr[-3000:]}")
    total = re.search(r"^\s*total\s+(\d+)", proc.stdout + proc.stderr, re.MULTILINE)
    return elapsed, int(total.group(1)) if total else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, nargs="+", default=[200, 2000])
    args = parser.parse_args()
    sizes = sorted(args.prompts)
    seconds: dict[str, dict[int, float]] = {name: {} for name in PROFILES}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            folder = copy_workflow(Path(tmp) / f"n{n}", grid_config(n, 1))
            for name, extra in PROFILES.items():
                elapsed, jobs = dry_run(folder, extra)
                seconds[name][n] = elapsed
                print(f"{n:6d} prompts x 1 setting, {name:5s}: {elapsed:6.1f} s, {jobs:5d} jobs, "
                      f"{1000 * elapsed / max(jobs, 1):5.2f} s per 1,000 jobs", flush=True)
    small, large = sizes[0], sizes[-1]
    for name in PROFILES:
        ratio = seconds[name][large] / seconds[name][small]
        print(f"{name}: {large} vs {small} prompts: {ratio:.1f} x the time for {large / small:.0f} x the sweep "
              "(each dry run includes ~3 s of Snakemake start-up and config load)")


if __name__ == "__main__":
    main()
