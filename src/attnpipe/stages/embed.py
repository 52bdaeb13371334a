"""Rule `embed`: prompt tokens -> hidden states X (T, d_model)."""

import torch

from ..embedding import lookup
from ..stagefiles import dim_labels, record, write_log, write_stage
from ..tokens import row_labels


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    x = torch.from_numpy(lookup(settings["tokens"], settings["vectors"], settings["fallback"]))
    labels = row_labels(settings["tokens"])
    write_stage({"hidden_states": record(x, labels, dim_labels(x.shape[1]))}, outputs)
    write_log(log, f"hidden_states {tuple(x.shape)} rows={labels}")
