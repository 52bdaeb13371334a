"""Measure what one job of each rule needs, as a cluster node runs it, against the rules' declared resources.

    .venv/bin/python benchmarks/resources.py [--prompt 31415926] [--weights two-heads] [--repeat 2]

In a temporary copy of the workflow (default config), after building the inputs, each job is forced once
more in a fresh `snakemake --cores 1 --workflow-profile none` process, the way a job runs inside a SLURM
allocation: a Snakemake process that parses the workflow and spawns the job (a `run:` job as a
subprocess, the render's `script:` as a Python process that renders with Manim and encodes with PyAV).
The whole process tree is sampled every 20 ms; reported per rule: peak resident memory of the tree (the
sum over its processes: that is what a cgroup limit sees), CPU seconds (user + system, all processes) and
wall seconds, each the maximum over --repeat runs, next to the rule's declared threads, mem_mb and runtime.
Renders are measured at both presets (preview, publish) for the given combination (default: the longest
default prompt with the multi-head setting, the most scenes in the default sweep).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parent.parent


def run_measured(cmd: list[str], cwd: Path) -> dict:
    """Run cmd; return peak RSS of its process tree (MB), CPU seconds of the tree, wall seconds."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 (read after the process ends)
    start = time.perf_counter()
    proc = psutil.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            rss = 0
            try:
                for p in [proc, *proc.children(recursive=True)]:
                    rss += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
            peak = max(peak, rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)  # rusage of the process and every descendant it waited for
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    if proc.returncode != 0:
        log.seek(0)
        sys.exit(f"{' '.join(cmd)} failed:\n{log.read().decode(errors='replace')[-3000:]}")
    return {"rss_mb": peak / 2**20, "cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": wall}


def declared(workdir: Path) -> dict:
    """rule -> (threads, mem_mb, runtime) as Snakemake resolves them for the sweep (from a dry run)."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--cores", "2", "--workflow-profile", "none"],
        cwd=workdir, capture_output=True, text=True, check=True,
    )
    found, rule = {}, None
    for line in proc.stdout.splitlines():
        if m := re.match(r"^\s*(?:local)?rule (\w+):$", line):  # indented inside a group job
            rule = m.group(1)
            found.setdefault(rule, {}).setdefault("threads", 1)  # printed only when > 1
        elif rule and (m := re.match(r"^\s+threads: (\d+)", line)):
            found.setdefault(rule, {})["threads"] = int(m.group(1))
        elif rule and (m := re.match(r"^\s+resources: (.*)$", line)):
            res = dict(kv.split("=", 1) for kv in m.group(1).split(", "))
            found.setdefault(rule, {}).update(mem_mb=res.get("mem_mb"), runtime=res.get("runtime"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default="31415926")
    parser.add_argument("--weights", default="two-heads")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    p, w = args.prompt, args.weights

    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        for part in ["Snakefile", "config", "workflow", "profiles"]:
            (shutil.copytree if (REPO / part).is_dir() else shutil.copy2)(REPO / part, wd / part)
        smk = [sys.executable, "-m", "snakemake", "--cores", "1", "--workflow-profile", "none"]
        subprocess.run([*smk, f"results/{w}/{p}/attend.pt"], cwd=wd, check=True, capture_output=True)
        jobs = {
            "embed": f"results/embeddings/{p}/embed.pt",
            "weights": f"results/{w}/weights.pt",
            "project": f"results/{w}/{p}/project.pt",
            "attend": f"results/{w}/{p}/attend.pt",
            "render (preview)": f"results/{w}/{p}/attention.mp4",
            "render (publish)": f"results/{w}/{p}/attention.mp4",
        }
        rows, decl = {}, {}
        for name, target in jobs.items():
            if name == "render (publish)":
                cfg = yaml.safe_load((wd / "config/config.yaml").read_text())
                cfg.setdefault("render", {})["preset"] = "publish"
                (wd / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
            runs = [run_measured([*smk, "--force", target], wd) for _ in range(args.repeat)]
            rows[name] = {k: max(r[k] for r in runs) for k in runs[0]}
            decl[name] = declared(wd)[name.split()[0]]  # as the rule resolves them for this config

    print(f"one job per rule ({w} x {p}), fresh Snakemake process, max of {args.repeat} runs")
    print(f"{'job':18} {'peak RSS MB':>11} {'CPU s':>7} {'wall s':>7}   declared: threads mem_mb runtime(min)")
    for name, r in rows.items():
        d = decl[name]
        print(f"{name:18} {r['rss_mb']:11.0f} {r['cpu_s']:7.1f} {r['wall_s']:7.1f}   "
              f"{d.get('threads') or '-':>7} {d.get('mem_mb') or '-':>6} {d.get('runtime') or '-':>7}")


if __name__ == "__main__":
    main()
