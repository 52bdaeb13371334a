"""Rule `project`: X -> queries, keys, values, each X @ W + b, with W and b from the weights stage."""

from ..numeric.projection import project
from ..store.layout import ROLES, TENSORS
from ..store.stagefiles import dim_labels, read_stage, record, write_log, write_stage

NAMES = dict(zip(ROLES, TENSORS["project"], strict=True))  # query -> queries, ...


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    hidden = read_stage(inputs["embed"])["hidden_states"]
    weights = read_stage(inputs["weights"])
    x, labels = hidden["tensor"], hidden["row_labels"]
    records = {}
    for role, name in NAMES.items():
        y = project(x, weights[f"w_{role}"]["tensor"], weights[f"b_{role}"]["tensor"][0])
        records[name] = record(y, labels, dim_labels(y.shape[1]))
    write_stage(records, outputs)
    write_log(log, *(f"{name} {tuple(r['tensor'].shape)}" for name, r in records.items()))
