"""Bad input fails before any job runs: non-zero exit, one line naming the key and what was expected,
and results/ (and logs/) exactly as they were."""

import numpy as np
import pytest
import torch
from conftest import read_config, snakemake, snapshot, write_config


def drop_fallback_and_add(prompt):
    def mutate(cfg):
        cfg.pop("unknown_tokens")
        cfg["prompts"] = [p for p in cfg["prompts"] if isinstance(p, str)] + [prompt]
    return mutate


def set_weight(name, key, value):
    return lambda cfg: cfg["weights"][name].__setitem__(key, value)


CASES = {
    "unknown token": (drop_fallback_and_add("01x2"),
                      ["prompts[3] ('01x2')", "token 'x' at position 2", "not in vocab"]),
    "wrong matrix shape": (set_weight("seed", "shared", [[2, 1, 1], [4, -6, 0]]),
                           ["weights.seed.shared", "expected 3 rows", "(2, 3)"]),
    "ragged matrix": (set_weight("seed", "shared", [[2, 1, 1], [4, -6], [1, 1, 1]]),
                      ["weights.seed.shared", "same length"]),
    "non-numeric value": (lambda cfg: cfg["weights"]["seed"]["shared"][1].__setitem__(2, "abc"),
                          ["weights.seed.shared[1][2]", "expected a number", "'abc'"]),
    "NaN in vocab": (lambda cfg: cfg["vocab"].__setitem__("0", [float("nan"), 0, 0]),
                     ["vocab.0", "finite"]),
    "inf in matrix": (lambda cfg: cfg["weights"]["seed"]["shared"][1].__setitem__(2, float("inf")),
                      ["weights.seed.shared", "finite"]),
    "empty prompt": (lambda cfg: cfg["prompts"].append(""), ["prompts[4]", "empty prompt"]),
    "duplicate prompt id": (lambda cfg: cfg["prompts"].append({"id": "the-cat", "text": "9"}),
                            ["prompts[4]", "duplicate prompt id 'the-cat'", "prompts[3]"]),
    "unsafe prompt id": (lambda cfg: cfg["prompts"].append({"id": "../escape", "text": "01"}),
                         ["prompts[4].id", "unsafe id '../escape'"]),
    "unsafe weight name": (lambda cfg: cfg["weights"].__setitem__("a/b", {"shared": "identity"}),
                           ["weights.a/b", "unsafe name"]),
    "weight name of a results file": (lambda cfg: cfg["weights"].__setitem__("index.html", {"shared": "identity"}),
                                      ["weights.index.html", "unsafe name", "not embeddings, index.html"]),
    "unknown key": (lambda cfg: cfg.__setitem__("promts", cfg.pop("prompts")),
                    ["promts: unknown key", "did you mean 'prompts'?"]),
    "unknown nested key": (lambda cfg: cfg["weights"]["seed"]["attention"].__setitem__("casual", True),
                           ["weights.seed.attention.casual", "did you mean 'causal'?"]),
    "heads not dividing d": (lambda cfg: cfg["weights"]["two-heads"]["attention"].__setitem__("heads", 3),
                             ["weights.two-heads.attention.heads", "divisor of the query width 4", "got 3"]),
    "missing weight file": (set_weight("seed", "shared", {"file": "weights/missing.npy"}),
                            ["weights.seed.shared", "weights/missing.npy", "not found"]),
    "unreadable weight file": (set_weight("seed", "shared", {"file": "garbage.npy"}),
                               ["weights.seed.shared", "garbage.npy", "unreadable"]),
    "weight file of wrong shape": (set_weight("seed", "shared", {"file": "wide.npy"}),
                                   ["weights.seed.shared", "expected 3 rows", "(4, 3)"]),
    "render head out of range": (lambda cfg: cfg["weights"]["two-heads"].__setitem__("render", {"heads": [2]}),
                                 ["weights.two-heads.render.heads", "0 to 1", "got 2"]),
    "missing hidden-state file": (
        lambda cfg: cfg["prompts"].append({"tokens": ["a"], "hidden_states": {"file": "x.npy"}}),
        ["prompts[4].hidden_states", "file x.npy", "not found"]),
    "hidden states of wrong width": (
        lambda cfg: cfg["prompts"].append({"text": "ab", "hidden_states": {"file": "x4.npy"}}),
        ["prompts[4].hidden_states", "expected 3 columns", "got 4", "x4.npy"]),
    "hidden states not a tensor": (
        lambda cfg: cfg["prompts"].append({"tokens": ["a"], "hidden_states": {"file": "notatensor.pt"}}),
        ["prompts[4].hidden_states", "notatensor.pt", "expected a tensor"]),
    "bad attention scale": (lambda cfg: cfg["weights"]["seed"]["attention"].__setitem__("scale", "sqrt"),
                            ["weights.seed.attention.scale", "'1/sqrt(d_head)'", "'sqrt'"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_fails_before_any_job(built_copy, case):
    mutate, expected = CASES[case]
    (built_copy / "garbage.npy").write_bytes(b"this is not an npy file")
    np.save(built_copy / "wide.npy", np.ones((4, 3)))
    np.save(built_copy / "x4.npy", np.ones((2, 4)))
    torch.save({"rows": [[1.0, 0, 0]]}, built_copy / "notatensor.pt")
    cfg = read_config(built_copy)
    mutate(cfg)
    write_config(built_copy, cfg)
    assert_fails_cleanly(built_copy, expected)


def test_malformed_yaml_fails_before_any_job(built_copy):
    path = built_copy / "config/config.yaml"
    path.write_text(path.read_text().replace('"1": [-2, 1, 0]', '"1": [-2, 1, 0'))
    assert_fails_cleanly(built_copy, ["config/config.yaml", "malformed YAML at line"])


def assert_fails_cleanly(workdir, expected):
    before = snapshot(workdir / "results"), snapshot(workdir / "logs")
    # a config edit would make some jobs stale: without the check, they would run and rewrite files
    proc = snakemake(workdir, "--cores", "2")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0
    assert lines and lines[-1].startswith("attnpipe: config error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert all(part in lines[-1] for part in expected), lines[-1]
    assert (snapshot(workdir / "results"), snapshot(workdir / "logs")) == before
    assert "jobid" not in proc.stdout + proc.stderr
