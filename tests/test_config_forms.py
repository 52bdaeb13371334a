"""Every way the config can name prompts and weights, through a real sweep."""

import copy

import numpy as np
import pandas as pd
import torch
from conftest import REPO, copy_workflow, job, planned_jobs, read_config, snakemake, write_config

from attnpipe.config.sweep import load_schema, load_sweep

SEED_W = [[2, 1, 1], [4, -6, 0], [-2, 7, 2]]


def test_weight_files_prompt_forms_and_biases(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    (wd / "weights").mkdir()
    np.save(wd / "weights/seed.npy", np.array(SEED_W, dtype=np.float64))
    torch.save(torch.tensor(SEED_W, dtype=torch.float64), wd / "weights/seed.pt")
    (wd / "weights/seed.csv").write_text("\n".join(",".join(map(str, row)) for row in SEED_W) + "\n")
    cfg = read_config(wd)
    cfg["prompts"] = ["012", {"text": "héllo wörld 0", "tokenizer": "words"}, {"id": "spaced", "text": "0 1"}]
    cfg["weights"] = {
        "inline": {"shared": SEED_W, "attention": {"scale": "none"}},
        "npy": {"shared": {"file": "weights/seed.npy"}, "attention": {"scale": "none"}},
        "pt": {"query": {"file": "weights/seed.pt"}, "key": {"file": "weights/seed.pt"},
               "value": {"file": "weights/seed.csv"}, "attention": {"scale": "none"}},
        "biased": {"shared": SEED_W, "bias": {"key": [1, 0, -1], "value": {"random": {"seed": 3}}}},
    }
    write_config(wd, cfg)
    prompts = ["012", "hello-world-0", "spaced"]
    # every stage file, and the videos of the setting whose file is edited below and of one that must not rerun
    # (not all 12: a render reads only the stage files, whatever form the config gave the weights in)
    targets = ["numeric", *(f"results/npy/{p}/attention.mp4" for p in prompts), "results/biased/012/attention.mp4"]
    snakemake(wd, *targets, "--cores", "2", check=True)

    def tensor(weights, prompt, name):
        stage = "project" if name in ("queries", "keys", "values") else "attend"
        return torch.load(wd / f"results/{weights}/{prompt}/{stage}.pt", weights_only=True)[name]["tensor"]

    for prompt in prompts:
        for name in ["queries", "values", "scores", "attention", "output"]:
            ref = tensor("inline", prompt, name)
            assert torch.equal(tensor("npy", prompt, name), ref) and torch.equal(tensor("pt", prompt, name), ref)
    assert tensor("inline", "012", "scores")[0].tolist() == [[6, -10, 1], [-10, 68, -2], [1, -2, 1]]
    keys = tensor("biased", "012", "keys")
    assert torch.equal(keys, tensor("inline", "012", "keys") + torch.tensor([1.0, 0, -1], dtype=torch.float64))
    assert torch.equal(tensor("biased", "012", "queries"), tensor("inline", "012", "queries"))
    assert not torch.equal(tensor("biased", "012", "values"), tensor("inline", "012", "values"))
    words = pd.read_csv(wd / "results/embeddings/hello-world-0/hidden_states.csv", index_col=0)
    assert list(words.index) == ["0:héllo", "1:wörld", "2:0"] and words.loc["2:0"].tolist() == [1, 0, 0]
    assert planned_jobs(wd, *targets) == set()

    # editing a weight file reruns exactly the settings that read it
    np.save(wd / "weights/seed.npy", np.array(SEED_W, dtype=np.float64) * 2)
    expected = {job(s, weights="npy", prompt=p) for s in ("project", "attend", "render") for p in prompts}
    assert planned_jobs(wd, *targets) == expected | {job("weights", weights="npy")}


def test_defaults_come_from_the_schema():
    schema = load_schema(REPO / "workflow/schemas/config.schema.yaml")
    cfg = {"vocab": {"a": [1.0, 0.0], "aa": [0.0, 1.0]}, "prompts": ["aa"], "weights": {"w": {"shared": "identity"}}}
    sweep = load_sweep(copy.deepcopy(cfg), schema)
    assert sweep.render == {"preset": "preview", "precision": 2, "scheme": "default"}
    assert sweep.weights["w"].attention == {"scale": "1/sqrt(d_head)", "causal": False, "softmax": True, "heads": 1}
    assert sweep.prompts["aa"].tokens == ["a", "a"]  # tokenizer: characters
    # the schema is the one place they are written: change one there, and the sweep follows
    schema["properties"]["render"]["properties"]["precision"]["default"] = 3
    schema["$defs"]["weight_setting"]["properties"]["attention"]["properties"]["causal"]["default"] = True
    schema["properties"]["tokenizer"]["default"] = "words"
    sweep = load_sweep(copy.deepcopy(cfg), schema)
    assert sweep.render["precision"] == 3 and sweep.weights["w"].attention["causal"] is True
    assert sweep.prompts["aa"].tokens == ["aa"]
