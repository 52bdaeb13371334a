"""Rule `gallery`: summary.csv, the stills and attend.pt of every combination -> results/index.html
and a thumbnail beside each still."""

from pathlib import Path

from ..gallery import write_gallery
from ..stagefiles import write_log


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    written = write_gallery(inputs["summary"], list(inputs["attend"]), outputs["page"], settings)
    declared = {Path(p).resolve() for p in outputs["thumbnails"]}
    if {p.resolve() for p in written} != declared:  # the rule's outputs and the page's links must agree
        raise RuntimeError(f"gallery wrote {len(written)} thumbnails, the rule declares {len(declared)} others")
    write_log(log, f"gallery: {len(written)} combinations -> {outputs['page']}")
