"""The default sweep, end to end, through the real Snakemake CLI."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import combinations, copy_workflow, read_config, snakemake, write_config

STAGE_CSVS = {
    "project": ["queries", "keys", "values"],
    "attend": ["scores", "scaled_scores", "attention", "output", "scale_factor"],
}


def load(path):
    return torch.load(path, weights_only=True)


def tensor(folder, stage, name):
    return load(folder / f"{stage}.pt")[name]["tensor"]


def test_the_default_sweep_shows_each_kind_of_attention(built_default):
    """What a new user sees first, read from its stage files: a causal mask (−∞ cells), scores scaled by
    1/sqrt(d_head) and unscaled ones, an identity projection (Q equals X), random weights, several heads."""
    seen = set()
    for weights, prompt in combinations(built_default):
        folder = built_default / "results" / weights / prompt
        attend, project = load(folder / "attend.pt"), load(folder / "project.pt")
        x = load(built_default / "results/embeddings" / prompt / "embed.pt")["hidden_states"]["tensor"]
        heads = attend["attention"]["tensor"].shape[0]
        d_head = project["queries"]["tensor"].shape[1] // heads
        factor = float(attend["scale_factor"]["tensor"][0, 0])
        seen |= {"causal"} if torch.isinf(attend["scaled_scores"]["tensor"]).any() else set()
        seen |= {"scaled"} if math.isclose(factor, 1 / math.sqrt(d_head)) else {"unscaled"} if factor == 1 else set()
        seen |= {"identity"} if torch.equal(project["queries"]["tensor"], x) else set()
        w_query = load(built_default / "results" / weights / "weights.pt")["w_query"]["tensor"]
        seen |= {"random"} if not torch.equal(w_query, w_query.round()) else set()
        seen |= {"heads"} if heads > 1 else set()
    assert seen == {"causal", "scaled", "unscaled", "identity", "random", "heads"}


def test_every_combination_has_every_stage(built_default):
    for weights, prompt in combinations(built_default):
        folder = built_default / "results" / weights / prompt
        for stage, names in STAGE_CSVS.items():
            assert sorted(load(folder / f"{stage}.pt")) == sorted(names)
            assert all((folder / f"{name}.csv").is_file() for name in names), folder
        embed = built_default / "results/embeddings" / prompt
        assert list(load(embed / "embed.pt")) == ["hidden_states"] and (embed / "hidden_states.csv").is_file()


def test_csv_and_tensor_hold_the_same_numbers(built_default):
    records = [(pt.parent / f"{name}.csv", record)
               for pt in sorted((built_default / "results").rglob("*.pt")) for name, record in load(pt).items()]
    assert len(records) > 100
    for csv, record in records:
        tensor = record["tensor"]
        assert tensor.dtype == torch.float64
        frame = pd.read_csv(csv, index_col=0)
        assert list(frame.columns) == record["column_labels"]
        heads = tensor.shape[0] if tensor.dim() == 3 else 1
        expected_rows = record["row_labels"] if heads == 1 else [
            f"h{h}/{label}" for h in range(heads) for label in record["row_labels"]]
        assert list(frame.index) == expected_rows
        # exact equality: the CSV is a faithful copy, not a rounded one
        assert np.array_equal(frame.to_numpy(), tensor.reshape(-1, tensor.shape[-1]).numpy()), csv


def test_weight_settings_are_saved_once_per_setting(built_default):
    seed = load(built_default / "results/seed/weights.pt")
    for role in ("query", "key", "value"):
        assert seed[f"w_{role}"]["tensor"].tolist() == [[2, 1, 1], [4, -6, 0], [-2, 7, 2]]
        assert seed[f"b_{role}"]["tensor"].tolist() == [[0, 0, 0]]
    assert load(built_default / "results/identity/weights.pt")["w_key"]["tensor"].tolist() == torch.eye(3).tolist()
    random = load(built_default / "results/random/weights.pt")
    assert random["b_query"]["tensor"].tolist() == [[0.1, 0, -0.1]]
    frame = pd.read_csv(built_default / "results/random/b_query.csv", index_col=0)
    assert list(frame.index) == ["bias"] and frame.loc["bias"].tolist() == [0.1, 0, -0.1]
    queries = tensor(built_default / "results/random/012", "project", "queries")
    hidden = tensor(built_default / "results/embeddings/012", "embed", "hidden_states")
    assert torch.allclose(queries, hidden @ random["w_query"]["tensor"] + random["b_query"]["tensor"])


def test_seed_combination_reproduces_the_notebook(built_default):
    folder = built_default / "results/seed/012"
    hidden = tensor(built_default / "results/embeddings/012", "embed", "hidden_states")
    assert hidden.tolist() == [[1, 0, 0], [-2, 1, 0], [-1, 1, 1]]
    assert tensor(folder, "project", "queries").tolist() == [[2, 1, 1], [0, -8, -2], [0, 0, 1]]
    assert tensor(folder, "project", "keys").T.tolist() == [[2, 0, 0], [1, -8, 0], [1, -2, 1]]
    assert tensor(folder, "attend", "scores")[0].tolist() == [[6, -10, 1], [-10, 68, -2], [1, -2, 1]]
    frame = pd.read_csv(folder / "scores.csv", index_col=0)
    assert list(frame.index) == ["0:0", "1:1", "2:2"] and list(frame.columns) == ["0:0", "1:1", "2:2"]
    assert frame.loc["1:1", "1:1"] == 68


def test_scaled_causal_softmax_setting(built_default):
    folder = built_default / "results/seed-causal/31415926"
    scores = tensor(folder, "attend", "scores")[0]
    scaled = tensor(folder, "attend", "scaled_scores")[0]
    weights = tensor(folder, "attend", "attention")[0]
    values = tensor(folder, "project", "values")
    T = scores.shape[0]
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    assert torch.isneginf(scaled[future]).all()
    assert torch.allclose(scaled[~future], scores[~future] / math.sqrt(3))
    assert torch.equal(scaled[~future], scores[~future] * tensor(folder, "attend", "scale_factor")[0, 0])
    assert (weights[future] == 0).all()
    assert torch.allclose(weights.sum(-1), torch.ones(T, dtype=torch.float64))
    assert torch.allclose(tensor(folder, "attend", "output"), weights @ values)


def test_scale_factor_is_saved_and_labels_the_video(built_default):
    from attnpipe.config.sweep import load_schema, load_sweep
    from attnpipe.render.story import read_story

    sweep = load_sweep(read_config(built_default), load_schema(built_default / "workflow/schemas/config.schema.yaml"))
    results = built_default / "results"
    # scale: none, the default 1/sqrt(d_head) with one head of 3 and with two heads of 2
    for weights, factor, label in (("seed", 1.0, None), ("seed-causal", 1 / math.sqrt(3), "× 1/√3"),
                                   ("two-heads", 1 / math.sqrt(2), "× 1/√2")):
        folder = results / weights / "012"
        assert tensor(folder, "attend", "scale_factor").tolist() == [[factor]]
        assert pd.read_csv(folder / "scale_factor.csv", index_col=0).loc["scale_factor", "value"] == factor
        paths = {"embed": results / "embeddings/012/embed.pt", "weights": results / weights / "weights.pt",
                 "project": folder / "project.pt", "attend": folder / "attend.pt"}
        story = read_story(paths, sweep.render_settings(weights, "012"))
        assert story.scale_factor == factor and story.scale_label() == label
    # the label is the saved number, not the config's words: any other factor is written out
    assert dataclasses.replace(story, scale_factor=0.25).scale_label() == "× 0.25"


def test_word_prompt_labels_repeated_tokens_by_position(built_default):
    frame = pd.read_csv(built_default / "results/embeddings/the-cat/hidden_states.csv", index_col=0)
    assert list(frame.index) == ["0:the", "1:cat", "2:sat", "3:on", "4:the", "5:mat"]
    assert list(frame.columns) == ["d0", "d1", "d2"]
    # the same unknown word gets the same seeded vector wherever it appears
    assert frame.loc["0:the"].tolist() == frame.loc["4:the"].tolist()
    assert frame.loc["0:the"].tolist() != frame.loc["1:cat"].tolist()


def test_multi_head_stage_files(built_default):
    folder = built_default / "results/two-heads/2024"
    assert tensor(folder, "attend", "attention").shape == (2, 4, 4)
    frame = pd.read_csv(folder / "attention.csv", index_col=0)
    assert frame.index[0] == "h0/0:2" and frame.index[4] == "h1/0:2"
    assert np.allclose(frame.sum(axis=1), 1.0)
    assert tensor(folder, "attend", "output").shape == (4, 4)


def test_nothing_to_do_after_a_complete_run(built_copy):
    proc = snakemake(built_copy, "--cores", "2", check=True)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_lint_is_clean_beyond_conda_and_container(built_copy):
    proc = snakemake(built_copy, "--lint")
    out = proc.stdout + proc.stderr
    findings = [line for line in out.splitlines() if line.startswith("    * ")]
    # --lint exits 1 on findings, and also when it crashes: a 1 must come with its report, rule by rule
    assert proc.returncode == 0 or (proc.returncode == 1 and findings and "Lints for rule" in out), out
    assert "Traceback" not in out and "Error" not in out, out
    assert all("conda" in f.lower() or "container" in f.lower() for f in findings), findings


def test_a_render_asks_for_what_its_combination_needs(tmp_path):
    """On a cluster each render is a job: its memory and time follow tokens x the heads walked through, so a
    big combination is not killed and a small one does not hold a big slot (attnpipe.resources, through the
    rule as Snakemake resolves it)."""
    workdir = copy_workflow(tmp_path / "wf")
    cfg = read_config(workdir)
    cfg["prompts"] = ["012", "314159265358"]  # 3 and 12 tokens
    cfg["weights"] = {"seed": cfg["weights"]["seed"], "twelve-heads": {
        role: {"random": {"seed": i, "shape": [3, 24]}} for i, role in enumerate(["query", "key", "value"])}}
    cfg["weights"]["twelve-heads"]["attention"] = {"heads": 12}
    cfg["weights"]["twelve-heads"]["render"] = {"detail": "all"}  # every head walked through
    write_config(workdir, cfg)
    proc = snakemake(workdir, "-n", check=True)
    asked, job = {}, None
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.strip().startswith("output:") and "attention.mp4" in line:
            job = line.split("results/", 1)[1].split("/attention.mp4")[0]
        if "resources:" in line and job:
            values = dict(part.strip().split("=", 1) for part in line.split("resources:", 1)[1].split(","))
            asked[job], job = (int(values["mem_mb"]), int(values["runtime"])), None
    assert len(asked) == 4
    small, big = asked["seed/012"], asked["twelve-heads/314159265358"]  # 1 head x 3 tokens; 12 heads x 12
    assert small[0] < big[0] and small[1] < big[1], asked


@pytest.mark.parametrize("rule", ["embed", "weights", "project", "attend"])
def test_every_rule_has_a_log_and_at_most_one_settings_dict(built_copy, rule):
    text = "\n".join(p.read_text() for p in (built_copy / "workflow/rules").glob("*.smk"))
    block = text.split(f"rule {rule}:", 1)[1].split("\nrule ", 1)[0]
    params = block.split("    params:", 1)[1].split("    log:", 1)[0]
    assert "    log:" in block and params.count("=") <= 2 and "code=" in params
    logs = list((built_copy / "logs" / rule).rglob("*.log"))
    assert logs and all(p.read_text().strip() for p in logs)


def test_numeric_target_makes_every_stage_file_but_no_video(tmp_path):
    from conftest import copy_workflow

    wd = copy_workflow(tmp_path / "wf")
    out = snakemake(wd, "numeric", "-n", "--cores", "2", check=True)
    text = out.stdout + out.stderr
    assert "rule attend:" in text and "rule weights:" in text and "rule render:" not in text
