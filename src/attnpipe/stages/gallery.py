"""Rule `gallery`: summary.csv, heads.csv, the stills and attend.pt of every combination -> results/index.html
and results/_gallery/ (a thumbnail of each still, the maps' images and numbers, the model views).
Reads the stage files without torch (attnpipe.store.torchfile)."""

import time

from ..report.gallery import write_gallery
from ..store.atomicfile import write_log


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    start, cpu = time.perf_counter(), time.process_time()
    count = write_gallery(inputs["summary"], inputs["heads"], list(inputs["attend"]), outputs["page"],
                          outputs["assets"], settings)
    write_log(log, f"gallery: {count} combinations -> {outputs['page']} in {time.perf_counter() - start:.1f} s "
                   f"({time.process_time() - cpu:.1f} CPU s)")
