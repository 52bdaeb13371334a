"""A real model's sizes. A layer whose W_q is bigger than a CSV should be (a tiny Llama of width 1536 with 12
heads of 128, stored in bf16, run by the real workflow): its weights.pt holds every number in float32, exactly
the model's, and its w_query.csv only the columns of the head the video walks through, while the smaller W_k's
CSV stays whole. The model view of a 32-layer x 32-head model, written by the gallery's own functions from
real attend.pt files, stays within 2 MB with everything it loads. Needs the `hf` extra."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow, snakemake, write_config

from attnpipe.look.weightcsv import CSV_MAX_VALUES
from attnpipe.store import torchfile

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
torch = pytest.importorskip("torch")

CORPUS = ["the cat sat on the mat", "a snowman sat in the snow", "the dog ate the bone"] * 20
WIDE = {"hidden_size": 1536, "num_attention_heads": 12, "num_key_value_heads": 4, "num_hidden_layers": 1,
        "intermediate_size": 32, "max_position_embeddings": 64}
DETAIL = 5  # the head the video walks through: W_q columns 640..767; it reads K/V head 5 // 3 = 1

pytestmark = pytest.mark.xdist_group("sizes")  # its module fixture builds a wide model once


def tokenizer():
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> Path:
    wd = copy_workflow(tmp_path_factory.mktemp("sizes") / "wf")
    tok = tokenizer()
    torch.manual_seed(0)
    model = transformers.LlamaModel(transformers.LlamaConfig(vocab_size=len(tok), **WIDE))
    model.to(torch.bfloat16).save_pretrained(wd / "hf/wide")
    tok.save_pretrained(wd / "hf/wide")
    write_config(wd, {"models": {"wide": {"path": "hf/wide"}},
                      "weights": {"wide": {"model": "wide", "layer": 0, "render": {"detail": [DETAIL]}}},
                      "prompts": ["the cat sat on the mat"]})
    snakemake(wd, "numeric", "--cores", "2", check=True)
    return wd


def test_a_big_weights_csv_holds_the_detail_heads_columns_and_its_pt_every_number(wide):
    from safetensors import safe_open

    weights = torchfile.load(wide / "results/wide/weights.pt")
    with safe_open(wide / "hf/wide/model.safetensors", framework="pt") as fh:
        source = {role: fh.get_tensor(f"layers.0.self_attn.{name}.weight")
                  for role, name in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj"))}
    for role, tensor in source.items():
        saved = weights[f"w_{role}"]["tensor"]
        assert tensor.dtype == torch.bfloat16 and saved.dtype == np.float32
        assert np.array_equal(saved, tensor.T.float().numpy())  # bf16 -> float32: exact
    w_q = weights["w_query"]
    assert w_q["tensor"].size > CSV_MAX_VALUES
    head = list(range(DETAIL * 128, (DETAIL + 1) * 128))
    assert w_q["csv_columns"] == head
    frame = pd.read_csv(wide / "results/wide/w_query.csv", index_col=0)
    assert list(frame.columns) == [f"d{j}" for j in head] and list(frame.index) == w_q["row_labels"]
    assert np.array_equal(frame.to_numpy(), w_q["tensor"][:, head])  # float32 numbers read back exactly
    # W_k (1536 x 512) is within the bound: its CSV is whole, as a toy setting's
    w_k = weights["w_key"]
    assert w_k["tensor"].size <= CSV_MAX_VALUES and "csv_columns" not in w_k
    frame = pd.read_csv(wide / "results/wide/w_key.csv", index_col=0)
    assert np.array_equal(frame.to_numpy(), w_k["tensor"])
    # the projection reads the whole float32 W_q from the .pt, in float64
    x = torchfile.load(wide / "results/wide/the-cat-sat-on-the-mat/embed.pt")["hidden_states"]["tensor"]
    q = torchfile.load(wide / "results/wide/the-cat-sat-on-the-mat/project.pt")["queries"]["tensor"]
    assert q.dtype == np.float64 and np.allclose(q, x @ w_q["tensor"].astype(np.float64), rtol=0, atol=1e-12)


def test_the_model_view_of_32_layers_by_32_heads_stays_within_2_mb(tmp_path):
    from attnpipe.report.gallery import read_combination
    from attnpipe.report.modelview import model_view_html
    from attnpipe.store.stagefiles import record, write_stage

    layers, heads, tokens = 32, 32, 11
    labels = [f"{i}:t{i}" for i in range(tokens)]
    rng = np.random.default_rng(0)
    settings = {"precision": 2, "scheme": "default", "models": {"m": {"layers": layers}},
                "weights": {f"m-layer{i}": {"softmax": True, "show_heads": [0], "model": "m", "layer": i}
                            for i in range(layers)}}
    combos = {}
    root = tmp_path / "wf"
    for layer in range(layers):
        scores = torch.from_numpy(rng.normal(size=(heads, tokens, tokens)))
        attention = torch.softmax(scores.masked_fill(torch.ones(tokens, tokens).triu(1).bool(), float("-inf")), -1)
        folder = root / f"results/m-layer{layer}/p"
        folder.mkdir(parents=True)
        write_stage({"attention": record(attention, labels, labels)},
                    {"tensors": folder / "attend.pt", "attention_csv": folder / "attention.csv"})
        combo = read_combination(f"m-layer{layer}", "p", folder / "attend.pt", settings, root / "results/_gallery")
        combo["patterns"] = dict.fromkeys(range(heads), "previous-token")
        combos[f"m-layer{layer}", "p"] = combo
    html = model_view_html("m", "p", "the prompt's text", layers, combos, settings)
    page = root / "results/_gallery/models/m/p.html"
    page.parent.mkdir(parents=True)
    page.write_text(html, encoding="utf-8")
    loaded = {page, *(page.parent / src for src in re.findall(r'(?:src|data-script)="([^"]+)"', html))}
    assert len(loaded) == 1 + layers * (heads + 1)  # a PNG per head, the numbers once per layer
    total = sum(path.stat().st_size for path in loaded)
    assert total <= 2 * 2**20, f"{total:,} bytes"
