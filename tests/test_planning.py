"""Planning time grows about linearly with the sweep (issue 21): a dry run of 2,000 prompts x 1 weight setting
takes well under a minute (it took over 17 minutes while the rules held `group:` lines: Snakemake checked one
group of 4,001 jobs). benchmarks/planning.py prints 200 vs 2,000 prompts, locally and with profiles/slurm."""

import re
import time

from conftest import copy_workflow, read_config, snakemake, write_config

PROMPTS = 2000
BOUND_S = 180  # generous: 45 s on a 2-core machine at load 3; with the groups in the rules, 66 s at 800 prompts


def test_a_2000_prompt_dry_run_plans_within_a_bound(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    cfg = read_config(wd)
    cfg["prompts"] = [f"{i:04d}" for i in range(PROMPTS)]  # digits: all in the vocab
    cfg["weights"] = {"seed": cfg["weights"]["seed"]}
    write_config(wd, cfg)
    start = time.monotonic()
    proc = snakemake(wd, "numeric", "-n", "--cores", "2", check=True)
    elapsed = time.monotonic() - start
    total = re.search(r"^\s*total\s+(\d+)", proc.stdout + proc.stderr, re.MULTILINE)
    assert total and int(total.group(1)) == 3 * PROMPTS + 3  # embed, project, attend; weights, summary, numeric
    assert elapsed < BOUND_S, f"planning {PROMPTS} prompts took {elapsed:.0f} s"
