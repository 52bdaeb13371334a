"""Rule `project`: X -> queries, keys, values, each X @ W (+ b)."""

import torch

from ..projection import project
from ..matrices import load_matrix, load_vector
from ..stagefiles import dim_labels, read_stage, write_log, write_stage

NAMES = {"query": "queries", "key": "keys", "value": "values"}


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    hidden = read_stage(inputs["hidden_states_pt"])
    x, labels = hidden["tensor"], hidden["row_labels"]
    lines = []
    for role, name in NAMES.items():
        w = torch.from_numpy(load_matrix(settings["projections"][role], x.shape[1]))
        bias = settings["biases"].get(role)
        b = None if bias is None else torch.from_numpy(load_vector(bias, w.shape[1]))
        y = project(x, w, b)
        write_stage(y, labels, dim_labels(y.shape[1]), outputs[f"{name}_pt"], outputs[f"{name}_csv"])
        lines.append(f"{name} = hidden_states {tuple(x.shape)} @ W_{role[0]} {tuple(w.shape)}{' + b' if b is not None else ''}")
    write_log(log, *lines)
