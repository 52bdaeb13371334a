"""Prompts that bring their own hidden states, and weights and biases from every file form, through the config
checks and a real sweep; bad files are refused at config load, with the key and the file named."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO, Payload, copy_workflow, job, planned_jobs, read_config, snakemake, write_config
from safetensors.numpy import save_file as save_safetensors
from safetensors.torch import save_file as save_torch_safetensors

from attnpipe.config.sweep import ConfigError, load_schema, load_sweep
from attnpipe.numeric.embedding import load_hidden_states
from attnpipe.numeric.matrices import SpecError, load_matrix, load_vector
from attnpipe.store.arrayfiles import read_labelled_file
from attnpipe.store.stagefiles import record, write_stage

SEED_W = np.array([[2.0, 1, 1], [4, -6, 0], [-2, 7, 2]])
X_012 = np.array([[1.0, 0, 0], [-2, 1, 0], [-1, 1, 1]])  # the default vocab's rows for "0", "1", "2"
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")


def write_hidden_state_files(folder, x=X_012, tokens=("0", "1", "2")):
    """The same rows in every form, each carrying the token labels where the form can."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
    np.save(folder / "x.npy", x)
    torch.save(record(torch.tensor(x), list(tokens), ["d0", "d1", "d2"]), folder / "x.pt")
    save_safetensors({"x": x}, folder / "x.safetensors", metadata={"tokens": json.dumps(list(tokens))})
    write_stage({"hidden_states": record(torch.tensor(x), labels, ["d0", "d1", "d2"])},
                {"tensors": folder / "embed.pt", "hidden_states_csv": folder / "x.csv"})


def sweep(prompts, weights=None, vocab=True):
    cfg = {"prompts": prompts, "weights": weights or {"seed": {"shared": SEED_W.tolist()}}}
    if vocab:
        cfg["vocab"] = {"0": [1, 0, 0], "1": [-2, 1, 0], "2": [-1, 1, 1]}
    return load_sweep(cfg, SCHEMA)


def test_every_file_form_reads_rows_and_labels(tmp_path):
    write_hidden_state_files(tmp_path)
    for name in ["x.npy", "x.pt", "x.safetensors", "x.csv", "embed.pt"]:
        found = read_labelled_file(tmp_path / name)
        assert np.array_equal(found.values, X_012), name
        assert found.row_labels == (None if name == "x.npy" else
                                    ["0:0", "1:1", "2:2"] if name in ("x.csv", "embed.pt") else ["0", "1", "2"]), name
    save_torch_safetensors({"w": torch.tensor(SEED_W, dtype=torch.bfloat16)}, str(tmp_path / "bf16.safetensors"))
    assert np.array_equal(load_matrix({"file": str(tmp_path / "bf16.safetensors")}, 3), SEED_W)  # exact in bf16
    save_safetensors({"b": np.array([[1.0, 0, -1]], dtype=np.float32)}, tmp_path / "b.safetensors")
    assert load_vector({"file": str(tmp_path / "b.safetensors")}, 3).tolist() == [1, 0, -1]


def test_hidden_state_prompts_get_their_tokens_from_config_file_or_text(tmp_path):
    write_hidden_state_files(tmp_path)
    f = {name: {"file": str(tmp_path / name)} for name in ["x.npy", "x.pt", "x.safetensors", "x.csv"]}
    s = sweep([
        {"id": "npy", "tokens": ["a", "b", "c"], "hidden_states": f["x.npy"]},
        {"id": "npy-text", "text": "a b c", "tokenizer": "words", "hidden_states": f["x.npy"]},
        {"hidden_states": f["x.pt"]},  # id derived from the tokens: "0 1 2" -> 0-1-2
        {"id": "st", "hidden_states": f["x.safetensors"]},
        {"id": "csv", "tokens": ["0", "1", "2"], "hidden_states": f["x.csv"]},  # both given: they agree
        {"id": "inline", "text": "xyz", "hidden_states": X_012.tolist()},
    ], vocab=False)
    assert s.d_model == 3 and not s.vocab
    tokens = {pid: p.tokens for pid, p in s.prompts.items()}
    assert tokens == {"npy": ["a", "b", "c"], "npy-text": ["a", "b", "c"], "0-1-2": ["0", "1", "2"],
                      "st": ["0", "1", "2"], "csv": ["0", "1", "2"], "inline": ["x", "y", "z"]}
    assert s.embed_settings("st") == {"tokens": ["0", "1", "2"], "hidden_states": f["x.safetensors"]}
    assert s.prompts["st"].files() == [f["x.safetensors"]["file"]] and s.prompts["inline"].files() == []
    assert s.prompts["npy"].text == "a b c" and s.prompts["inline"].text == "xyz"


def bad_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "wide.npy", np.ones((3, 4)))
    np.save(folder / "nan.npy", np.array([[1.0, np.nan, 0]] * 3))
    np.save(folder / "vector.npy", np.ones(3))
    np.save(folder / "bool.npy", np.ones((3, 3), dtype=bool))
    save_safetensors({"x": np.ones((3, 3), dtype=np.int8) > 0}, folder / "bool.safetensors")
    save_safetensors({"a": np.ones((3, 3)), "b": np.ones((3, 3))}, folder / "two.safetensors")
    save_safetensors({"x": X_012}, folder / "badmeta.safetensors", metadata={"tokens": "[not json"})
    (folder / "garbage.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    torch.save({"rows": [[1, 0, 0]]}, folder / "notatensor.pt")
    torch.save(torch.ones(3, 3, dtype=torch.complex64), folder / "complex.pt")
    torch.save(record(torch.tensor(X_012), ["a", "b", "c"], ["d0", "d1", "d2"]), folder / "abc.pt")
    (folder / "x.txt").write_text("1,0,0\n")


HIDDEN_STATE_CASES = {  # prompt -> parts of the one-line message
    "missing file": ({"tokens": ["a"], "hidden_states": {"file": "absent.npy"}},
                     ["prompts[0].hidden_states", "absent.npy", "not found"]),
    "unknown suffix": ({"tokens": ["a"], "hidden_states": {"file": "x.txt"}},
                       ["prompts[0].hidden_states", "x.txt", ".safetensors"]),
    "NaN": ({"tokens": ["a", "b", "c"], "hidden_states": {"file": "nan.npy"}},
            ["prompts[0].hidden_states", "nan.npy", "finite"]),
    "a vector": ({"tokens": ["a"], "hidden_states": {"file": "vector.npy"}},
                 ["prompts[0].hidden_states", "vector.npy", "2-D matrix", "(3,)"]),
    "bool npy": ({"tokens": ["a"] * 3, "hidden_states": {"file": "bool.npy"}},
                 ["prompts[0].hidden_states", "bool.npy", "real numbers", "bool"]),
    "bool safetensors": ({"tokens": ["a"] * 3, "hidden_states": {"file": "bool.safetensors"}},
                         ["prompts[0].hidden_states", "bool.safetensors", "real numbers", "bool"]),
    "two tensors": ({"tokens": ["a"] * 3, "hidden_states": {"file": "two.safetensors"}},
                    ["prompts[0].hidden_states", "two.safetensors", "exactly one tensor, found 2 (a, b)"]),
    "bad metadata": ({"hidden_states": {"file": "badmeta.safetensors"}},
                     ["prompts[0].hidden_states", "badmeta.safetensors", "JSON list of strings"]),
    "garbage safetensors": ({"tokens": ["a"], "hidden_states": {"file": "garbage.safetensors"}},
                            ["prompts[0].hidden_states", "garbage.safetensors", "unreadable"]),
    "pickle not a tensor": ({"tokens": ["a"], "hidden_states": {"file": "notatensor.pt"}},
                            ["prompts[0].hidden_states", "notatensor.pt", "expected a tensor, got list"]),
    "complex": ({"tokens": ["a"], "hidden_states": {"file": "complex.pt"}},
                ["prompts[0].hidden_states", "complex.pt", "real numbers"]),
    "no labels": ({"id": "x", "hidden_states": {"file": "wide.npy"}},
                  ["prompts[0].hidden_states", "wide.npy", "no token labels", "tokens: [...]"]),
    "too few tokens": ({"tokens": ["a", "b"], "hidden_states": {"file": "wide.npy"}},
                       ["prompts[0].tokens", "expected 3 tokens", "wide.npy", "got 2"]),
    "text of other length": ({"text": "ab", "hidden_states": {"file": "wide.npy"}},
                             ["prompts[0].text (characters tokenizer)", "expected 3 tokens", "got 2"]),
    "labels disagree": ({"tokens": ["a", "x", "c"], "hidden_states": {"file": "abc.pt"}},
                        ["prompts[0].tokens", "abc.pt", "position 1", "'x' in the config, 'b' in the file"]),
    "width against vocab": ({"tokens": ["a", "b", "c"], "hidden_states": {"file": "wide.npy"}},
                            ["prompts[0].hidden_states", "expected 3 columns", "vocab vector length", "got 4",
                             "wide.npy"]),
    "ragged inline": ({"tokens": ["a", "b"], "hidden_states": [[1, 0, 0], [1, 0]]},
                      ["prompts[0].hidden_states", "same length"]),
}


@pytest.mark.parametrize("case", sorted(HIDDEN_STATE_CASES))
def test_bad_hidden_states_are_refused_at_config_load(tmp_path, monkeypatch, case):
    bad_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    prompt, expected = HIDDEN_STATE_CASES[case]
    prompts = [prompt, "012"] if case == "width against vocab" else [prompt]
    with pytest.raises(ConfigError) as err:
        sweep(prompts, vocab=case == "width against vocab")
    message = str(err.value)
    assert "\n" not in message and all(part in message for part in expected), message


WEIGHT_CASES = {  # weight setting -> parts of the message; the prompts' hidden states are 3 wide
    "rows against hidden states": ({"shared": {"file": "wide.npy"}},
                                   ["weights.w.shared", "expected 4 rows", "d_model, the width of prompts[0]",
                                    "(3, 4)", "wide.npy"]),
    "bias length": ({"shared": "identity", "bias": {"key": {"file": "wide.npy"}}},
                    ["weights.w.bias.key", "expected a non-empty vector", "(3, 4)", "wide.npy"]),
    "bias file": ({"shared": "identity", "bias": {"value": {"file": "two.safetensors"}}},
                  ["weights.w.bias.value", "two.safetensors", "exactly one tensor"]),
    "NaN weights": ({"query": "identity", "key": "identity", "value": {"file": "nan.npy"}},
                    ["weights.w.value", "nan.npy", "finite"]),
    "pickle not a tensor": ({"shared": {"file": "notatensor.pt"}},
                            ["weights.w.shared", "notatensor.pt", "expected a tensor"]),
}


@pytest.mark.parametrize("case", sorted(WEIGHT_CASES))
def test_weight_files_are_checked_against_the_hidden_states(tmp_path, monkeypatch, case):
    bad_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    setting, expected = WEIGHT_CASES[case]
    hidden = np.ones((2, 4)) if case == "rows against hidden states" else X_012
    with pytest.raises(ConfigError) as err:
        sweep([{"tokens": ["a"] * len(hidden), "hidden_states": hidden.tolist()}], {"w": setting}, vocab=False)
    message = str(err.value)
    assert "\n" not in message and all(part in message for part in expected), message


def test_hidden_state_pt_files_never_execute_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save(Payload(), tmp_path / "evil.pt")
    with pytest.raises(SpecError, match="refused: it holds Python objects"):
        load_hidden_states({"file": "evil.pt"})
    with pytest.raises(ConfigError, match=r"prompts\[0\].hidden_states: file evil.pt: refused"):
        sweep([{"tokens": ["a"], "hidden_states": {"file": "evil.pt"}}], vocab=False)
    assert not (tmp_path / "pwned").exists()


def test_sweep_over_hidden_state_files_and_safetensors_weights(tmp_path):
    """Rows equal to the vocab's give exactly the vocab prompt's numbers, from every file form; editing a file
    reruns exactly the jobs that read it."""
    wd = copy_workflow(tmp_path / "wf")
    write_hidden_state_files(wd / "inputs")
    save_safetensors({"w": SEED_W}, wd / "inputs/w.safetensors")
    save_safetensors({"b": np.array([1.0, 0, -1])}, wd / "inputs/b.safetensors")
    cfg = read_config(wd)
    cfg["prompts"] = [
        "012",
        {"id": "npy", "tokens": ["0", "1", "2"], "hidden_states": {"file": "inputs/x.npy"}},
        {"id": "pt", "hidden_states": {"file": "inputs/x.pt"}},
        {"id": "st", "hidden_states": {"file": "inputs/x.safetensors"}},
        {"id": "csv", "hidden_states": {"file": "inputs/x.csv"}},
        {"id": "inline", "text": "012", "hidden_states": X_012.tolist()},
    ]
    cfg["weights"] = {
        "inline": {"shared": SEED_W.tolist(), "bias": {"key": [1, 0, -1]}, "attention": {"heads": 1}},
        "files": {"query": {"file": "inputs/w.safetensors"}, "key": {"file": "inputs/w.safetensors"},
                  "value": {"file": "inputs/w.safetensors"}, "bias": {"key": {"file": "inputs/b.safetensors"}}},
    }
    write_config(wd, cfg)
    snakemake(wd, "numeric", "--cores", "2", check=True)

    def stage(weights, prompt, name):
        which = "project" if name in ("queries", "keys", "values") else "attend"
        return torch.load(wd / f"results/{weights}/{prompt}/{which}.pt", weights_only=True)[name]

    ids = ["npy", "pt", "st", "csv", "inline"]
    for pid in ids:
        x = pd.read_csv(wd / f"results/embeddings/{pid}/hidden_states.csv", index_col=0)
        assert list(x.index) == ["0:0", "1:1", "2:2"] and np.array_equal(x.to_numpy(), X_012), pid
        for weights in ("inline", "files"):
            for name in ("queries", "keys", "values", "scores", "attention", "output"):
                ref = stage("inline", "012", name)
                got = stage(weights, pid, name)
                assert torch.equal(got["tensor"], ref["tensor"]) and got["row_labels"] == ref["row_labels"]
    assert planned_jobs(wd, "numeric") == set()

    write_hidden_state_files(wd / "inputs", x=X_012 * 2)  # every file form rewritten: four prompts stale
    files_prompts = ["npy", "pt", "st", "csv"]
    assert planned_jobs(wd, "numeric") == {
        job(rule, prompt=p, **({} if rule == "embed" else {"weights": w}))
        for p in files_prompts for rule in ("embed", "project", "attend") for w in ("inline", "files")
    }
    snakemake(wd, "numeric", "--cores", "2", check=True)
    assert torch.equal(stage("files", "st", "queries")["tensor"], 2 * stage("files", "012", "queries")["tensor"])

    save_safetensors({"b": np.array([0.0, 0, 0])}, wd / "inputs/b.safetensors")  # a bias file: one setting
    all_ids = ["012", *ids]
    assert planned_jobs(wd, "numeric") == {job("weights", weights="files")} | {
        job(rule, weights="files", prompt=p) for p in all_ids for rule in ("project", "attend")}


def test_tokens_without_hidden_states_are_looked_up_as_given():
    s = sweep([{"id": "ten", "tokens": ["1", "0"]}, {"tokens": ["2"]}])
    assert s.prompts["ten"].tokens == ["1", "0"]
    assert s.embed_settings("ten")["vectors"] == {"0": [1, 0, 0], "1": [-2, 1, 0]}
    assert s.prompts["2"].text == "2"
    with pytest.raises(ConfigError, match=r"prompts\[0\] \('1 x'\): token 'x' at position 1 is not in vocab"):
        sweep([{"tokens": ["1", "x"]}])
    with pytest.raises(ConfigError, match=r"prompts\[0\]: expected `text`, `tokens` or `hidden_states`"):
        sweep([{"id": "nothing"}])
