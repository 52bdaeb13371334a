"""Rule `render`: the stage files of one combination -> attention.mp4 and attention.png.

A job hands its render to a forked child of the render server when one can be had (render.forkserver:
Manim and the scene imported once per sweep, not once per job), else renders in its own process. Either
way Manim's global state is the render's alone, and its output goes to the rule's log, not the terminal.
"""

import os
import sys

from ..render import forkserver


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    if forkserver.enabled():
        code = forkserver.submit({"settings": settings, "inputs": inputs, "outputs": outputs, "log": log})
        if code is not None:
            if code:
                sys.exit(_reason(log) or f"attnpipe: the render failed (exit status {code}): see {log}")
            return
    render_job(settings, inputs, outputs, log)


def _reason(log: str) -> str | None:
    """The one-line reason a render left as its log's last line (a damaged stage file), if it left one."""
    try:
        last = open(log, encoding="utf-8", errors="replace").read().rstrip("\n").rpartition("\n")[2]
    except OSError:
        return None
    return last if last.startswith("attnpipe: ") else None


def render_job(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    # imported here: a job that hands its render to the server never loads Manim
    from ..render.story import read_story
    from ..render.video import render
    from ..torchfile import TorchFileError

    with open(log, "w", encoding="utf-8") as fh:
        try:  # a damaged stage file: one line (path and fix) in the log and, in the job's own process, the terminal
            story = read_story(inputs, settings)
        except TorchFileError as err:
            print(f"attnpipe: input error: {err}", file=fh, flush=True)
            sys.exit(f"attnpipe: input error: {err}")
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(fh.fileno(), 1)  # Manim's logger, PyAV and anything else this process prints
        os.dup2(fh.fileno(), 2)
        scene = render(story, settings, outputs["video"], outputs["still"])
        smallest = min(scene.drawn.items(), key=lambda item: item[1])
        print(f"rendered {settings['weights']}/{settings['prompt']} at {settings['preset']}: "
              f"{len(scene.shown)} numbers shown; smallest text {smallest[1]:.1f} px at 640x360 ({smallest[0]!r})"
              + (" (forked from the render server)" if forkserver.FORKED else ""))


def preload() -> None:
    """Import what every render needs, for the render server to fork from."""
    import manim  # noqa: F401

    from ..render import glyphs, scene, story, video  # noqa: F401

    glyphs.fingerprint()  # lists the installed fonts: a subprocess per job otherwise
