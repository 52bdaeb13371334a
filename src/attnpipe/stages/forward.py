"""Rule `forward`: one forward pass of a model over one prompt's text -> the attention inputs of the layers the
sweep asks of that model.

One job per (model, prompt), shared by all the model's layer settings; the forward streams the model and stops
at the deepest layer asked for. attention_inputs (layers asked, T, d_model; block labels "layer<l>", CSV rows
"layer<l>/<i>:<token>", tokens as the model's tokenizer writes them) and, for rotary models, rope_cos and
rope_sin (T, head_dim) as the attention layers receive them.
"""

import torch

from ..models import hf
from ..stagefiles import dim_labels, record, write_log, write_stage
from ..tokens import row_labels


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    result = hf.forward(settings["path"], settings["family"], settings["text"], settings["layers"])
    labels = row_labels(result["tokens"])
    inputs_of_layers = result["attention_inputs"]
    x = torch.stack([inputs_of_layers[layer] for layer in sorted(inputs_of_layers)])
    layers = [f"layer{layer}" for layer in sorted(inputs_of_layers)]
    records = {"attention_inputs": record(x, labels, dim_labels(x.shape[2]), block_labels=layers)}
    for name in ("rope_cos", "rope_sin"):
        if name in result:
            records[name] = record(result[name], labels, dim_labels(result[name].shape[1]))
    write_stage(records, outputs)
    write_log(log, f"forward {settings['path']} over {settings['text']!r}: {len(labels)} tokens {labels}, "
                   f"attention inputs of {', '.join(layers)}")
