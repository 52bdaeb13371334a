"""Rule `render`: the stage files of one combination -> attention.mp4 and attention.png.

Runs in a process of its own (a `script:` rule): Manim keeps global state, and its output goes to
the rule's log, not the terminal.
"""

import os
import sys

from ..render.story import read_story
from ..render.video import render


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    with open(log, "w", encoding="utf-8") as fh:
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(fh.fileno(), 1)  # Manim's logger, PyAV and anything else this process prints
        os.dup2(fh.fileno(), 2)
        story = read_story(inputs, settings)
        shown = render(story, settings, outputs["video"], outputs["still"])
        print(f"rendered {settings['weights']}/{settings['prompt']} at {settings['preset']}: "
              f"{len(shown)} numbers shown")
