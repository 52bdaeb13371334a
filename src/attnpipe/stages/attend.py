"""Rule `attend`: Q, K, V -> raw scores, scaled/masked scores, attention weights, output."""

from ..attention import attend
from ..stagefiles import dim_labels, read_stage, write_log, write_stage

# result key -> stage file name
FILES = {"scores": "scores", "scaled_scores": "scaled_scores", "weights": "attention", "output": "output"}


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    q, k, v = (read_stage(inputs[f"{n}_pt"]) for n in ("queries", "keys", "values"))
    result = attend(q["tensor"], k["tensor"], v["tensor"], **settings)
    for key, name in FILES.items():
        tensor = result[key]
        columns = dim_labels(tensor.shape[1]) if key == "output" else k["row_labels"]
        write_stage(tensor, q["row_labels"], columns, outputs[f"{name}_pt"], outputs[f"{name}_csv"])
    write_log(log, f"attend {settings} -> weights {tuple(result['weights'].shape)}")
