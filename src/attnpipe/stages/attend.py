"""Rule `attend`: Q, K, V -> raw scores, scaled/masked scores, attention weights, output."""

import torch

from ..attention import attend
from ..stagefiles import dim_labels, read_stage, record, write_log, write_stage

# stage file name -> key of attention.attend's result
RESULTS = {"scores": "scores", "scaled_scores": "scaled_scores", "attention": "weights", "output": "output"}


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    qkv = read_stage(inputs["project"])
    q, k, v = qkv["queries"], qkv["keys"], qkv["values"]
    result = attend(q["tensor"], k["tensor"], v["tensor"], **settings)
    records = {}
    for name, key in RESULTS.items():
        tensor = result[key]
        columns = dim_labels(tensor.shape[1]) if name == "output" else k["row_labels"]
        records[name] = record(tensor, q["row_labels"], columns)
    # Under the causal mask a query's future keys score -inf by design; any other NaN/inf is an overflow.
    future = torch.ones(q["tensor"].shape[0], k["tensor"].shape[0], dtype=torch.bool).triu(diagonal=1)
    write_stage(records, outputs, masked={"scaled_scores": future} if settings.get("causal") else None)
    write_log(log, f"attend {settings} -> attention {tuple(result['weights'].shape)}")
