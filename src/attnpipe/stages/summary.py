"""Rule `summary`: every combination's stage files -> results/summary.csv (+ summary.html for the report)
and results/heads.csv (one row per head). Reads the stage files without torch (attnpipe.store.torchfile)."""

from pathlib import Path

import pandas as pd

from ..report import heads_table, summary
from ..store.atomicfile import write_log


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    rows, head_rows = [], []
    for weights, prompt, attend, row in summary.summary_rows(settings, list(inputs["embed"]),
                                                             list(inputs["attend"]), Path(outputs["table"]).parent):
        rows.append(row)
        head_rows += heads_table.head_rows(weights, prompt, attend, settings["models"].get(weights))
    summary.write_summary(pd.DataFrame(rows, columns=summary.COLUMNS), outputs["table"], outputs["page"])
    heads_table.write_heads(pd.DataFrame(head_rows, columns=heads_table.COLUMNS), outputs["heads"])
    write_log(log, f"summary: {len(rows)} combinations -> {outputs['table']}, {len(head_rows)} heads -> "
                   f"{outputs['heads']}")
