"""Rule `gallery`: summary.csv, heads.csv, the stills and attend.pt of every combination -> results/index.html,
a thumbnail beside each still, and results/_gallery/ (the maps' images and numbers, the model views).
Reads the stage files without torch (attnpipe.torchfile)."""

import time
from pathlib import Path

from ..gallery import write_gallery


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    start = time.perf_counter()
    written = write_gallery(inputs["summary"], inputs["heads"], list(inputs["attend"]), outputs["page"],
                            outputs["assets"], settings)
    declared = {Path(p).resolve() for p in outputs["thumbnails"]}
    if {p.resolve() for p in written} != declared:  # the rule's outputs and the page's links must agree
        raise RuntimeError(f"gallery wrote {len(written)} thumbnails, the rule declares {len(declared)} others")
    # not stagefiles.write_log: that module imports torch
    Path(log).write_text(f"gallery: {len(written)} combinations -> {outputs['page']} in "
                         f"{time.perf_counter() - start:.1f} s\n", encoding="utf-8")
