"""Rule `embed`: prompt tokens -> hidden states X (T, d_model), looked up in the vocab or the prompt's own."""

import torch

from ..numeric.embedding import load_hidden_states, lookup
from ..numeric.tokens import row_labels
from ..store.stagefiles import dim_labels, record, write_log, write_stage


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    tokens = settings["tokens"]
    if "hidden_states" in settings:  # checked at config load; read again here, the file may have changed since
        x = torch.from_numpy(load_hidden_states(settings["hidden_states"]).values)
        if x.shape[0] != len(tokens):
            raise ValueError(f"hidden states {tuple(x.shape)}: expected one row per token, {len(tokens)} tokens")
        spec = settings["hidden_states"]
        source = f"file {spec['file']}" if isinstance(spec, dict) else "inline rows"
    else:
        x = torch.from_numpy(lookup(tokens, settings["vectors"], settings["fallback"]))
        source = "vocab lookup"
    labels = row_labels(tokens)
    write_stage({"hidden_states": record(x, labels, dim_labels(x.shape[1]))}, outputs)
    write_log(log, f"hidden_states {tuple(x.shape)} ({source}) rows={labels}")
