"""Rule `attend`: Q, K, V -> raw scores, scaled/masked scores, attention weights, output, and the scale
factor applied (a 1 x 1 record, so the video's "× 1/√d" is read from the stage file like every other number,
and scaled_scores.csv = scores.csv × scale_factor.csv can be checked from the CSVs alone).

With a `rotate` input (rotary models) the scores use its rotated queries and keys. The scores' and weights'
records hold `kv_heads`, the K/V head each query head reads (itself, without grouped-query attention); with
grouped-query attention (settings kv_heads) the stacked CSV rows say so too, for a person: "h3(kv1)/".
"""

import torch

from ..numeric.attention import attend, kv_head_of
from ..store.stagefiles import dim_labels, read_stage, record, write_log, write_stage

# stage file name -> key of attention.attend's result
RESULTS = {"scores": "scores", "scaled_scores": "scaled_scores", "attention": "weights", "output": "output"}


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    qkv = read_stage(inputs["project"])
    q, k, v = qkv["queries"], qkv["keys"], qkv["values"]
    if "rotate" in inputs:
        rotated = read_stage(inputs["rotate"])
        q, k = rotated["queries_rotated"], rotated["keys_rotated"]
    result = attend(q["tensor"], k["tensor"], v["tensor"], **settings)
    heads = settings["heads"]
    reads = [kv_head_of(i, heads, settings.get("kv_heads", heads)) for i in range(heads)]
    blocks = [f"h{i}(kv{kv})" for i, kv in enumerate(reads)] if "kv_heads" in settings else None
    records = {}
    for name, key in RESULTS.items():
        tensor = result[key]
        if name == "output":
            records[name] = record(tensor, q["row_labels"], dim_labels(tensor.shape[1]))
        else:
            records[name] = record(tensor, q["row_labels"], k["row_labels"], block_labels=blocks, kv_heads=reads)
    factor = torch.tensor([[result["scale_factor"]]], dtype=torch.float64)
    records["scale_factor"] = record(factor, ["scale_factor"], ["value"])
    # Keys a query cannot see (causal mask, sliding window) score -inf by design; any other NaN/inf is an overflow.
    hidden = result["hidden"]
    write_stage(records, outputs, masked={"scaled_scores": hidden} if hidden.any() else None)
    write_log(log, f"attend {settings} -> attention {tuple(result['weights'].shape)}")
