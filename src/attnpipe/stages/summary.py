"""Rule `summary`: every combination's stage files -> results/summary.csv (+ summary.html for the report)
and results/heads.csv (one row per head). Reads the stage files without torch (attnpipe.torchfile)."""

from pathlib import Path

import pandas as pd

from ..report import heads_table as heads
from ..report import summary


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    rows, head_rows = [], []
    for weights, prompt, attend, row in summary.summary_rows(settings, list(inputs["embed"]),
                                                             list(inputs["attend"]), Path(outputs["table"]).parent):
        rows.append(row)
        head_rows += heads.head_rows(weights, prompt, attend, settings["models"].get(weights))
    summary.write_summary(pd.DataFrame(rows, columns=summary.COLUMNS), outputs["table"], outputs["page"])
    heads.write_heads(pd.DataFrame(head_rows, columns=heads.COLUMNS), outputs["heads"])
    Path(log).write_text(f"summary: {len(rows)} combinations -> {outputs['table']}, {len(head_rows)} heads -> "
                         f"{outputs['heads']}\n", encoding="utf-8")  # not stagefiles.write_log: that imports torch
