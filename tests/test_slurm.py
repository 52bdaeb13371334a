"""The sweep on a real SLURM cluster: profiles/slurm through snakemake-executor-plugin-slurm.

A single-node cluster (tests/slurm_cluster.py: Debian's slurmctld, slurmd and munge on 127.0.0.1,
installed by `./run.sh test`) runs a small sweep, 2 prompts x 2 weight settings: every numeric stage
and one render. The run must go through SLURM (job ids the plugin reported are jobs slurmctld ran, one
per group of profiles/slurm, with their logs kept), and every file it made must equal, byte for byte, the same file of
the local default sweep (`built_default`): the stage tensors and CSVs, and the video and still, which
are deterministic too (same frames, same encoder settings, no timestamps in the container).
"""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_workflow, read_config, write_config
from slurm_cluster import SlurmCluster, missing_requirements

from attnpipe.store.layout import TENSORS

PROMPTS = ["012", "2024"]
WEIGHTS = ["seed", "two-heads"]
RENDERED = "results/seed/012/attention.mp4"  # one render through SLURM (~10 s of work at preview)
CLUSTER_ARGS = [
    # No accounting database here, so `sacct` fails: ask squeue (MinJobAge 3600 s >= 3 x the 2 s delay).
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "2",  # else the first status check waits 40 s
    "--slurm-keep-successful-logs",
]


@pytest.fixture
def slurm_cluster(tmp_path):
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    cluster = SlurmCluster(tmp_path / "slurm").start()
    yield cluster
    cluster.stop()  # runs on failure too


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sweep_on_slurm_equals_local_sweep(slurm_cluster, tmp_path, request):
    workdir = copy_workflow(tmp_path / "wf")
    config = read_config(workdir)
    config["prompts"] = [p for p in config["prompts"] if p in PROMPTS]
    config["weights"] = {name: config["weights"][name] for name in WEIGHTS}
    write_config(workdir, config)

    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--workflow-profile", "profiles/slurm", *CLUSTER_ARGS,
         "numeric", RENDERED],
        cwd=workdir, env={**os.environ, "PYTHONPATH": str(workdir / "src")},
        check=False, capture_output=True, text=True, timeout=480,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{output[-6000:]}\n{slurm_cluster.logs()}"

    # Every job went through SLURM: the ids the plugin reported are jobs slurmctld ran to completion.
    submitted = dict(re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", output))
    jobs = {job["id"]: job for job in slurm_cluster.jobs()}
    assert set(submitted) == set(jobs), output[-3000:]
    assert {job["state"] for job in jobs.values()} == {"COMPLETED"}
    assert len({job["name"] for job in jobs.values()}) == 1  # one Snakemake run (its run id)
    for log in submitted.values():
        assert Path(log).stat().st_size > 0  # the job's SLURM log, kept

    # Coarse jobs (profiles/slurm's groups): one for the inputs (embeddings and weights, up to 20), one per
    # weight setting's project and attend jobs (up to 10 prompts), one per render -- not one per stage.
    comments = sorted(job["comment"] for job in jobs.values())
    assert comments == sorted(
        ["rule_inputs_embed_weights", "rule_render_wildcards_seed_012"]
        + [f"rule_weight_setting_{name}_attend_project" for name in WEIGHTS]
    )

    # summary.csv/.html and heads.csv (a local rule of `numeric`) describe this smaller grid, unlike built_default's
    summaries = {Path("results/summary.csv"), Path("results/summary.html"), Path("results/heads.csv")}
    made = sorted(p.relative_to(workdir) for p in (workdir / "results").rglob("*") if p.is_file())
    assert summaries <= set(made)
    made = [rel for rel in made if rel not in summaries]
    def files(stage):  # a stage's .pt and one CSV per tensor
        return 1 + len(TENSORS[stage])

    per_combination = files("project") + files("attend")
    expected_count = len(PROMPTS) * files("embed") + len(WEIGHTS) * files("weights") \
        + len(PROMPTS) * len(WEIGHTS) * per_combination + 2  # + the one render: its video and still
    assert len(made) == expected_count
    # asked for only now: under pytest-xdist another worker sweeps it while this one waits on the cluster
    built_default = request.getfixturevalue("built_default")
    for rel in made:
        assert sha256(workdir / rel) == sha256(built_default / rel), f"{rel} differs from the local sweep's"
    assert not any(Path(workdir / ".snakemake/incomplete").glob("*"))
