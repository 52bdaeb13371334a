"""Seconds per rendered combination at a preset, against the seed notebook's own Manim scene.

    .venv/bin/python benchmarks/render.py [--preset preview] [--tokens 3 8 16 32 64]
                                          [--notebook ../shared/seed/attention_notebook.txt]
    .venv/bin/python benchmarks/render.py --sweep [--cores 2]

--sweep: the default sweep's videos as a user gets them: `snakemake numeric`, then the seconds from the
numeric stages done to every video present (`snakemake --cores 2`, a cold glyph cache of its own, then
the same again with the cache warm; render jobs forked from the render server, as a user's are, unless
ATTNPIPE_RENDER_SERVER=off), against the notebook's scene at -ql in the same run, and the ratio
(target: at most 3x, stretch 2x).

For each prompt length it runs the numeric stages (Snakemake, in a temporary copy of the workflow)
for the `seed` weight setting, then times one render job as the rule runs it on a cluster: a fresh
process that imports attnpipe and Manim, reads the stage files and renders (no render server). The
reference is the notebook's `AttentionMatMulPureText` scene, extracted from the notebook text and
rendered with `manim -ql` in the same run. Targets: the 3-token render in at most half the reference's
time, the 64-token render in at most 3x the 3-token one.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workdir import REPO, copy_workflow, read_config, write_config

from attnpipe.config.sweep import load_schema, load_sweep
from attnpipe.render import server as render_server
from attnpipe.store import layout

RENDER_JOB = """
import sys
from attnpipe.stages import render
import json
from attnpipe.store import layout
settings = json.loads(sys.argv[1])
folder = layout.combination_dir(settings["weights"], settings["prompt"])
inputs = {"embed": layout.stage_file(layout.embeddings_dir(settings["prompt"]), "embed"),
          "weights": layout.stage_file(layout.weights_dir(settings["weights"]), "weights"),
          **{stage: layout.stage_file(folder, stage) for stage in ("project", "attend")}}
outputs = {"video": f"{folder}/{layout.VIDEO}", "still": f"{folder}/{layout.STILL}"}
render.run(settings, inputs, outputs, f"{folder}/render.log")
"""


def timed(cmd, cwd) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def notebook_scene(notebook: Path) -> str:
    """The AttentionMatMulPureText cell of the seed notebook, as a runnable module."""
    text = notebook.read_text()
    start = text.index("class AttentionMatMulPureText(Scene):")
    end = text.index("self.play(*[FadeOut(mob) for mob in self.mobjects])", start)
    body = text[start:end] + "self.play(*[FadeOut(mob) for mob in self.mobjects])\n"
    return "from manim import *\nimport numpy as np\n\n" + body


def reference_seconds(notebook: Path, wd: Path) -> float | None:
    """The notebook's AttentionMatMulPureText rendered with `manim -ql`, or None without the notebook."""
    if notebook is None or not notebook.is_file():
        return None
    (wd / "notebook_scene.py").write_text(notebook_scene(notebook))
    return timed([sys.executable, "-m", "manim", "-ql", "--disable_caching", "--progress_bar", "none",
                  "--media_dir", str(wd / "media"), "notebook_scene.py", "AttentionMatMulPureText"], wd)


def time_sweep(args) -> None:
    """The default sweep's videos: from `numeric` done to every video present, cold then warm cache."""
    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        copy_workflow(wd)
        os.environ["ATTNPIPE_CACHE_DIR"] = str(wd / "glyph-cache")  # cold: a fresh clone's first sweep
        smk = [sys.executable, "-m", "snakemake", "--cores", str(args.cores)]
        timed([*smk, "numeric"], wd)
        cold = timed(smk, wd)
        reference = reference_seconds(args.notebook, wd)
        warm = timed([*smk, "--forcerun", "render"], wd)
        count = len(list((wd / layout.RESULTS).glob(f"*/*/{layout.VIDEO}")))
    server = "on" if render_server.enabled() else "off: each render in its own job process"
    print(f"default sweep: {count} videos at --cores {args.cores}, from `numeric` done to all videos present")
    print(f"  render server: {server}")
    print(f"  cold glyph cache  {cold:7.1f} s")
    print(f"  warm glyph cache  {warm:7.1f} s   (the videos again, --forcerun render)")
    if reference is None:
        print(f"reference skipped: {args.notebook} not found")
        return
    print(f"reference: notebook AttentionMatMulPureText at -ql  {reference:6.1f} s")
    print(f"ratio cold / reference: {cold / reference:.2f}   warm / reference: {warm / reference:.2f}"
          "   (target <= 3, stretch <= 2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="time the default sweep's videos (see above)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--preset", default="preview")
    parser.add_argument("--tokens", type=int, nargs="+", default=[3, 8, 16, 32, 64])
    # beside the repository (/work/main), or beside the folder of worktrees (/work/wt/<branch>)
    notebook = next((p for p in (REPO.parent / "shared/seed/attention_notebook.txt",
                                 REPO.parent.parent / "shared/seed/attention_notebook.txt") if p.is_file()), None)
    parser.add_argument("--notebook", type=Path, default=notebook)
    parser.add_argument("--keep", type=Path, help="copy each video and still into this folder")
    args = parser.parse_args()
    if args.sweep:
        return time_sweep(args)

    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        copy_workflow(wd)
        cfg = read_config(REPO)
        digits = "0123456789" * 10
        prompts = {n: ("012" if n == 3 else digits[1:n + 1]) for n in args.tokens}
        cfg["prompts"] = [{"id": f"t{n}", "text": text} for n, text in prompts.items()]
        cfg["weights"] = {"seed": cfg["weights"]["seed"]}
        write_config(wd, cfg)
        targets = [layout.stage_file(layout.combination_dir("seed", f"t{n}"), "attend") for n in args.tokens]
        timed([sys.executable, "-m", "snakemake", "--cores", "2", *targets], wd)

        cfg["render"] = {"preset": args.preset}
        # each render timed whole in a process of its own, Manim's import included (as on a cluster)
        os.environ["ATTNPIPE_RENDER_SERVER"] = "off"
        sweep = load_sweep(cfg, load_schema(wd / "workflow/schemas/config.schema.yaml"))
        seconds = {}
        for n in args.tokens:
            settings = sweep.render_settings("seed", f"t{n}")  # exactly what the rule's params carry
            seconds[n] = timed([sys.executable, "-c", RENDER_JOB, json.dumps(settings)], wd)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for name in (layout.VIDEO, layout.STILL):
                    kept = args.keep / f"t{n}{Path(name).suffix}"
                    shutil.copy(wd / layout.combination_file("seed", f"t{n}", name), kept)

        reference = reference_seconds(args.notebook, wd)

    base = seconds[args.tokens[0]]
    print(f"render at '{args.preset}', one process per combination (as the rule runs it):")
    for n, s in seconds.items():
        print(f"  {n:3d} tokens  {s:6.2f} s   {s / base:4.2f}x the {args.tokens[0]}-token render")
    if 64 in seconds and 3 in seconds:
        print(f"64-token / 3-token: {seconds[64] / seconds[3]:.2f}  (target <= 3)")
    if reference is not None:
        print(f"reference: notebook AttentionMatMulPureText at -ql  {reference:6.2f} s")
        if 3 in seconds:
            print(f"3-token / reference: {seconds[3] / reference:.2f}  (target <= 0.5)")
    else:
        print(f"reference skipped: {args.notebook} not found")


if __name__ == "__main__":
    main()
