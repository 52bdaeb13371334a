"""What one render job does, wherever it runs (its own process, or a render server's forked child): read the
combination's stage files, render the video and the still, and write the job's log. preload() imports what
every render needs, for the render server to fork from."""

import os
import sys


def job(settings: dict, inputs: dict, outputs: dict, log: str, forked: bool = False, workflow=None) -> None:
    """`workflow`: the Snakemake process the job belongs to (lifeline.workflow()): gone, the render stops."""
    # imported here: a job that hands its render to the server never loads Manim
    from ..store.torchfile import TorchFileError
    from . import lifeline
    from .story import read_story
    from .video import render

    lifeline.hold(workflow)
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
        overlaps = (f"; {len(scene.overlaps)} pairs of texts overlap (first: {scene.overlaps[0][1]!r} and "
                    f"{scene.overlaps[0][2]!r})" if scene.overlaps else "; no texts overlap")
        print(f"rendered {settings['weights']}/{settings['prompt']} at {settings['preset']}: "
              f"{len(scene.shown)} numbers shown; smallest text {smallest[1]:.1f} px at 640x360 ({smallest[0]!r})"
              + overlaps + (" (forked from the render server)" if forked else ""))


def failure(log: str) -> str | None:
    """The one-line reason a render left as its log's last line (a damaged stage file), if it left one."""
    try:
        last = open(log, encoding="utf-8", errors="replace").read().rstrip("\n").rpartition("\n")[2]
    except OSError:
        return None
    return last if last.startswith("attnpipe: ") else None


def preload() -> None:
    """Import what every render needs, for the render server to fork from."""
    import manim  # noqa: F401

    from . import glyphs, lifeline, scene, story, video  # noqa: F401

    glyphs.fingerprint()  # lists the installed fonts: a subprocess per job otherwise
