"""Rule `project`: X -> queries, keys, values, each X @ W (+ b)."""

import torch

from ..matrices import load_matrix, load_vector
from ..projection import project
from ..stagefiles import dim_labels, read_stage, record, write_log, write_stage

NAMES = {"query": "queries", "key": "keys", "value": "values"}


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    hidden = read_stage(inputs["embed"])["hidden_states"]
    x, labels = hidden["tensor"], hidden["row_labels"]
    records, lines = {}, []
    for role, name in NAMES.items():
        w = torch.from_numpy(load_matrix(settings["projections"][role], x.shape[1]))
        bias = settings["biases"].get(role)
        b = None if bias is None else torch.from_numpy(load_vector(bias, w.shape[1]))
        y = project(x, w, b)
        records[name] = record(y, labels, dim_labels(y.shape[1]))
        lines.append(f"{name} = hidden_states {tuple(x.shape)} @ W_{role[0]} {tuple(w.shape)}{' + b' if b is not None else ''}")
    write_stage(records, outputs)
    write_log(log, *lines)
