"""Rule `rotate`: queries and keys -> rotated by position (rotary position embedding, Llama family;
attnpipe.numeric.rotary), with cos and sin (T, head_dim) from the model's own forward pass (forward.pt)."""

from ..numeric.rotary import rotate
from ..store.stagefiles import read_stage, record, write_log, write_stage


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    qkv = read_stage(inputs["project"])
    rope = read_stage(inputs["forward"])
    cos, sin = rope["rope_cos"]["tensor"], rope["rope_sin"]["tensor"]
    records = {}
    for name in ("queries", "keys"):
        rec = qkv[name]
        records[f"{name}_rotated"] = record(rotate(rec["tensor"], cos, sin), rec["row_labels"], rec["column_labels"])
    write_stage(records, outputs)
    write_log(log, *(f"{name} {tuple(r['tensor'].shape)}" for name, r in records.items()))
