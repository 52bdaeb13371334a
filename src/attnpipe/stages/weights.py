"""Rule `weights`: a weight setting's specs -> W_q, W_k, W_v (d_model, d_out) and biases (1, d_out).

Resolved once per setting, not once per prompt; the biases are zeros where the config gives none.
"""

import numpy as np
import torch

from ..numeric.matrices import load_matrix, load_vector
from ..store.layout import ROLES
from ..store.stagefiles import dim_labels, record, write_log, write_stage


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    d_model = settings["d_model"]
    records, lines = {}, []
    for role in ROLES:
        w = load_matrix(settings["projections"][role], d_model)
        spec = settings["biases"].get(role)
        b = np.zeros(w.shape[1]) if spec is None else load_vector(spec, w.shape[1])
        records[f"w_{role}"] = record(torch.from_numpy(w), dim_labels(d_model), dim_labels(w.shape[1]))
        records[f"b_{role}"] = record(torch.from_numpy(b)[None, :], ["bias"], dim_labels(w.shape[1]))
        lines.append(f"W_{role} {w.shape}" + ("" if spec is None else " with bias"))
    write_stage(records, outputs)
    write_log(log, *lines)
