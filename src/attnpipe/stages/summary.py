"""Rule `summary`: every combination's stage files -> results/summary.csv (+ summary.html for the report)."""

from pathlib import Path

from ..stagefiles import write_log
from ..summary import build_summary, write_summary


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    root = Path(outputs["table"]).parent
    frame = build_summary(settings, list(inputs["embed"]), list(inputs["attend"]), root)
    write_summary(frame, outputs["table"], outputs["page"])
    write_log(log, f"summary: {len(frame)} combinations -> {outputs['table']}")
