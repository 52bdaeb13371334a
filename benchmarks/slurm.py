"""Jobs submitted and wall time of the numeric sweep through profiles/slurm versus a local run (default 10 x 10).

    .venv/bin/python benchmarks/slurm.py [--prompts 10] [--weights 10]

Needs root and Debian's slurmctld, slurmd, slurm-client and munge (`./run.sh test` installs them): it
starts the single-node test cluster of tests/slurm_cluster.py on 127.0.0.1 (this machine's cores) and
stops it afterwards. The grid is benchmarks/sweep.py's; the target is `numeric` (every stage file, no
videos: renders are one SLURM job each and cost the same either way). Prints, for the local run
(profiles/default, threads) and the cluster run (profiles/slurm, status by squeue, first check after
2 s): Snakemake jobs, SLURM jobs submitted, wall seconds, and that both made the same bytes.
"""

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "benchmarks")]
from slurm_cluster import SlurmCluster, missing_requirements  # noqa: E402
from sweep import grid_config  # noqa: E402
from workdir import copy_workflow  # noqa: E402


def run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout + proc.stderr


def snakemake_jobs(output: str) -> int:
    """The `total` row of Snakemake's job-stats table, less the `numeric` target itself."""
    return int(re.search(r"^\s*total\s+(\d+)", output, re.MULTILINE).group(1)) - 1  # either job stats table


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((folder / "results").rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--weights", type=int, default=10)
    args = parser.parse_args()
    if reason := missing_requirements():
        sys.exit(f"benchmarks/slurm.py: {reason}")
    config = grid_config(args.prompts, args.weights)
    smk = [sys.executable, "-m", "snakemake", "numeric"]

    with tempfile.TemporaryDirectory() as tmp:
        local = copy_workflow(Path(tmp) / "local", config)
        local_s, local_out = run([*smk, "--cores", "2"], local)

        cluster = copy_workflow(Path(tmp) / "cluster", config)
        with SlurmCluster(Path(tmp) / "slurm") as slurm:
            cluster_s, cluster_out = run([
                *smk, "--workflow-profile", "profiles/slurm", "--slurm-status-command", "squeue",
                "--slurm-init-seconds-before-status-checks", "2",
            ], cluster)
            slurm_jobs = slurm.jobs()
            cpus = slurm.cpus
        same = digest(local) == digest(cluster)
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", cluster_out))
    if submitted != {job["id"] for job in slurm_jobs}:
        sys.exit(f"plugin reported jobs {sorted(submitted)}, slurmctld lists {slurm_jobs}")

    by_kind = {}
    for job in slurm_jobs:
        kind = job["comment"].removeprefix("rule_").split("_wildcards_")[0]
        for name in config["weights"]:  # a weight setting's group is named after it: one kind for all
            kind = kind.replace(f"weight_setting_{name}_", "weight_setting_<setting>_")
        by_kind[kind] = by_kind.get(kind, 0) + 1
    print(f"grid: {args.prompts} prompts x {args.weights} weight settings, target `numeric` "
          f"(every stage file, no videos)")
    print(f"local   (profiles/default, --cores 2):  {snakemake_jobs(local_out):4d} Snakemake jobs, "
          f"{'-':>4} SLURM jobs, {local_s:7.1f} s")
    print(f"cluster (profiles/slurm, 1 node x {cpus} CPUs): {snakemake_jobs(cluster_out):4d} Snakemake jobs, "
          f"{len(slurm_jobs):4d} SLURM jobs, {cluster_s:7.1f} s")
    print("SLURM jobs by kind: " + ", ".join(f"{n} x {kind}" for kind, n in sorted(by_kind.items())))
    print(f"same bytes in results/: {same}")


if __name__ == "__main__":
    main()
