"""Seconds per rendered combination at a preset, against the seed notebook's own Manim scene.

    .venv/bin/python benchmarks/render.py [--preset preview] [--tokens 3 8 16 32 64]
                                          [--notebook ../shared/seed/attention_notebook.txt]

For each prompt length it runs the numeric stages (Snakemake, in a temporary copy of the workflow)
for the `seed` weight setting, then times one render job exactly as the rule runs it: a fresh
process that imports attnpipe, reads the stage files and renders. The reference is the notebook's
`AttentionMatMulPureText` scene, extracted from the notebook text and rendered with `manim -ql` in
the same run. Targets: the 3-token render in at most half the reference's time, the 64-token render
in at most 3x the 3-token one.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from attnpipe.config import load_schema, load_sweep

REPO = Path(__file__).resolve().parent.parent
RENDER_JOB = """
import sys
from attnpipe.stages import render
settings, folder = eval(sys.argv[1]), sys.argv[2]
inputs = {"embed": f"results/embeddings/{settings['prompt']}/embed.pt", "weights": "results/seed/weights.pt",
          "project": f"{folder}/project.pt", "attend": f"{folder}/attend.pt"}
render.run(settings, inputs, {"video": f"{folder}/attention.mp4", "still": f"{folder}/attention.png"}, f"{folder}/render.log")
"""


def timed(cmd, cwd) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="preview")
    parser.add_argument("--tokens", type=int, nargs="+", default=[3, 8, 16, 32, 64])
    parser.add_argument("--notebook", type=Path, default=REPO.parent / "shared/seed/attention_notebook.txt")
    parser.add_argument("--keep", type=Path, help="copy each video and still into this folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        for part in ["Snakefile", "config", "workflow", "profiles"]:
            (shutil.copytree if (REPO / part).is_dir() else shutil.copy2)(REPO / part, wd / part)
        cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
        digits = "0123456789" * 10
        prompts = {n: ("012" if n == 3 else digits[1:n + 1]) for n in args.tokens}
        cfg["prompts"] = [{"id": f"t{n}", "text": text} for n, text in prompts.items()]
        cfg["weights"] = {"seed": cfg["weights"]["seed"]}
        (wd / "config/config.yaml").write_text(yaml.safe_dump(cfg))
        targets = [f"results/seed/t{n}/attend.pt" for n in args.tokens]
        timed([sys.executable, "-m", "snakemake", "--cores", "2", *targets], wd)

        cfg["render"] = {"preset": args.preset}
        sweep = load_sweep(cfg, load_schema(wd / "workflow/schemas/config.schema.yaml"))
        seconds = {}
        for n in args.tokens:
            settings = sweep.render_settings("seed", f"t{n}")  # exactly what the rule's params carry
            seconds[n] = timed([sys.executable, "-c", RENDER_JOB, repr(settings), f"results/seed/t{n}"], wd)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for ext in ("mp4", "png"):
                    shutil.copy(wd / f"results/seed/t{n}/attention.{ext}", args.keep / f"t{n}.{ext}")

        reference = None
        if args.notebook.is_file():
            (wd / "notebook_scene.py").write_text(notebook_scene(args.notebook))
            reference = timed([sys.executable, "-m", "manim", "-ql", "--disable_caching", "--progress_bar", "none",
                               "--media_dir", str(wd / "media"), "notebook_scene.py", "AttentionMatMulPureText"], wd)

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
