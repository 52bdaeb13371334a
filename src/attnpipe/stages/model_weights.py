"""Rule `model_weights`: one attention layer of a model -> W_q, W_k, W_v (d_model, d_out) and biases (1, d_out).

Written like a toy setting's weights stage, in attnpipe's y = x @ W + b: nn.Linear's weight transposed,
GPT-2's Conv1D c_attn split into Q, K, V (no transpose); zeros where the model has no bias (Llama). With
grouped-query attention W_k and W_v have kv_heads * head_dim columns. Saved as float32, the model's numbers
exactly (bf16, f16 and f32 all convert to it without rounding); a big weight's CSV holds the column blocks of
the heads the video walks through (attnpipe.look.weightcsv), its .pt every column.
"""

import torch

from ..look.weightcsv import csv_columns, heads_read
from ..models import hf
from ..store.stagefiles import dim_labels, record, write_log, write_stage


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    weights = hf.layer_weights(settings["path"], settings["family"], settings["layer"])
    records, lines = {}, []
    for role, (w, b) in weights.items():
        d_model, d_out = w.shape
        bias = torch.zeros(d_out) if b is None else b
        blocks = heads_read(role, settings["detail_heads"], settings["heads"], settings["kv_heads"])
        columns = csv_columns((d_model, d_out), settings["head_dim"], blocks)
        records[f"w_{role}"] = record(w, dim_labels(d_model), dim_labels(d_out), dtype=torch.float32,
                                      csv_columns=columns)
        records[f"b_{role}"] = record(bias[None, :], ["bias"], dim_labels(d_out), dtype=torch.float32)
        lines.append(f"W_{role} {tuple(w.shape)}" + ("" if b is None else " with bias")
                     + ("" if columns is None else f"; CSV: the columns of heads {blocks}"))
    write_stage(records, outputs)
    write_log(log, f"{settings['path']} layer {settings['layer']}", *lines)
