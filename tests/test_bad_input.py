"""Bad input fails before any job runs: non-zero exit, one line naming the key and what was expected,
and results/ (and logs/) exactly as they were."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, read_config, snakemake, snapshot, write_config

SRC = REPO / "src"


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
                                      ["weights.index.html", "unsafe name", "not embeddings, heads.csv, index.html"]),
    "unknown key": (lambda cfg: cfg.__setitem__("promts", cfg.pop("prompts")),
                    ["promts: unknown key", "did you mean 'prompts'?"]),
    "unknown nested key": (lambda cfg: cfg["weights"]["seed"]["attention"].__setitem__("casual", True),
                           ["weights.seed.attention.casual", "did you mean 'causal'?"]),
    "heads not dividing d": (lambda cfg: cfg["weights"]["two-heads"]["attention"].__setitem__("heads", 3),
                             ["weights.two-heads.attention.heads", "divisor of the query width 4", "got 3"]),
    "missing weight file": (set_weight("seed", "shared", {"file": "weights/missing.npy"}),
                            ["weights.seed.shared", "weights/missing.npy", "not found"]),
    "unreadable weight file": (set_weight("seed", "shared", {"file": "garbage.npy"}),
                               ["weights.seed.shared", "garbage.npy", "not a valid .npy file"]),
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
    # numbers that are no use as numbers (issue 11, item 8)
    "NaN attention scale": (lambda cfg: cfg["weights"]["seed"]["attention"].__setitem__("scale", float("nan")),
                            ["weights.seed.attention.scale", "expected a finite number", "nan"]),
    "inf attention scale": (lambda cfg: cfg["weights"]["seed"]["attention"].__setitem__("scale", float("inf")),
                            ["weights.seed.attention.scale", "expected a finite number", "inf"]),
    "huge random std": (set_weight("random", "query", {"random": {"seed": 1, "std": 1e308}}),
                        ["weights.random.query.random.std", "within ±1e+150", "1e+308"]),
    "huge vocab number": (lambda cfg: cfg["vocab"].__setitem__("0", [1e308, 0, 0]),
                          ["vocab.0[0]", "within ±1e+150", "1e+308"]),
    "huge bias": (set_weight("random", "bias", {"query": [0.1, 1e308, 0]}),
                  ["weights.random.bias.query[1]", "within ±1e+150"]),
    "negative random seed": (set_weight("random", "query", {"random": {"seed": -1}}),
                             ["weights.random.query.random.seed", ">= 0", "got -1"]),
    "negative fallback seed": (lambda cfg: cfg.__setitem__("unknown_tokens", {"seed": -1, "dim": 3}),
                               ["unknown_tokens.seed", ">= 0", "got -1"]),
    # ids Snakemake or the file system cannot take
    "prompt id of 256 characters": (lambda cfg: cfg["prompts"].append({"id": "x" * 256, "text": "01"}),
                                    ["prompts[4].id", "at most 100 characters", "got 256"]),
    "weight name of 300 characters": (lambda cfg: cfg["weights"].__setitem__("w" * 300, {"shared": "identity"}),
                                      ["weights." + "w" * 300, "at most 100 characters"]),
    "periodic prompt id": (lambda cfg: cfg["prompts"].append({"id": "ab" + "x" * 25, "text": "01"}),
                           ["prompts[4].id", "20 or more repeats"]),
    "prompt id of a weights file": (lambda cfg: cfg["prompts"].append({"id": "weights.pt", "text": "01"}),
                                    ["prompts[4].id", "unsafe id 'weights.pt'", "a file in results/"]),
    "prompt id of a weight CSV": (lambda cfg: cfg["prompts"].append({"id": "w_query.csv", "text": "01"}),
                                  ["prompts[4].id", "unsafe id 'w_query.csv'"]),
    # sizes no job can hold, refused before any job
    "huge random shape": (set_weight("two-heads", "query", {"random": {"seed": 11, "shape": [3, 100_000_000]}}),
                          ["weights.two-heads.query", "at most 16384 rows and columns", "(3, 100000000)"]),
    "too many tokens": (lambda cfg: cfg["prompts"].append({"id": "long", "tokens": ["0"] * 1025}),
                        ["prompts[4]", "at most 1024 tokens", "got 1025"]),
    "too many heads": (lambda cfg: cfg["weights"].__setitem__(
                           "many", {"shared": {"random": {"seed": 1, "shape": [3, 256]}}, "attention": {"heads": 256}}),
                       ["weights.many.attention.heads", "at most 128", "got 256"]),
    "fallback too wide": (lambda cfg: (cfg.pop("vocab"), cfg.__setitem__("unknown_tokens", {"seed": 0, "dim": 20000})),
                          ["unknown_tokens.dim", "at most 16384", "got 20000"]),
    # weight files refused for what they are, not read when too big
    "directory as weight file": (set_weight("seed", "shared", {"file": "adir.npy"}),
                                 ["weights.seed.shared", "file adir.npy: is a directory"]),
    "text as .npy": (set_weight("seed", "shared", {"file": "text.npy"}),
                     ["weights.seed.shared", "file text.npy: not a valid .npy file"]),
    "sparse 2 GB csv": (set_weight("seed", "shared", {"file": "sparse.csv"}),
                        ["weights.seed.shared", "file sparse.csv: 2,147,483,648 bytes", "not read"]),
    # a model's name is a folder under results/models/ (issue 21): it writes nowhere else
    "model name outside results": (
        lambda cfg: (cfg.__setitem__("models", {"../../../../elsewhere": {"path": "hf/m"}}),
                     cfg["weights"].__setitem__("m", {"model": "../../../../elsewhere", "layer": 0})),
        ["models.../../../../elsewhere: unsafe name '../../../../elsewhere'", "no '/' and no '..'"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_fails_before_any_job(built_copy, case):
    mutate, expected = CASES[case]
    (built_copy / "garbage.npy").write_bytes(b"this is not an npy file")
    np.save(built_copy / "wide.npy", np.ones((4, 3)))
    np.save(built_copy / "x4.npy", np.ones((2, 4)))
    torch.save({"rows": [[1.0, 0, 0]]}, built_copy / "notatensor.pt")
    (built_copy / "adir.npy").mkdir()
    (built_copy / "text.npy").write_text("1, 2, 3\n")
    with open(built_copy / "sparse.csv", "wb") as fh:
        fh.truncate(2 << 30)  # 2 GB of nothing: costs no disk, would take 20 s and 4 GB to parse
    cfg = read_config(built_copy)
    mutate(cfg)
    write_config(built_copy, cfg)
    assert_fails_cleanly(built_copy, expected)


def test_malformed_yaml_fails_before_any_job(built_copy):
    path = built_copy / "config/config.yaml"
    path.write_text(path.read_text().replace('"1": [-2, 1, 0]', '"1": [-2, 1, 0'))
    assert_fails_cleanly(built_copy, ["config/config.yaml", "malformed YAML at line"])


def edit_config_text(workdir, old, new):
    path = workdir / "config/config.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return text


def test_duplicate_top_level_key_is_refused(built_copy):
    # a second `tokenizer: words` would make "012" one token
    text = edit_config_text(built_copy, "prompts:\n", "tokenizer: words\nprompts:\n")
    line = text[: text.index("prompts:\n")].count("\n") + 1
    first = text[: text.index("tokenizer: characters")].count("\n") + 1
    assert_fails_cleanly(built_copy, ["config/config.yaml: tokenizer: duplicate key", f"lines {first} and {line}"])


def test_duplicate_nested_key_is_refused(built_copy):
    # a second `seed:` setting would replace the first one whole, its `scale: none` dropped
    text = edit_config_text(built_copy, "  identity:\n", "  seed:\n    shared: identity\n  identity:\n")
    first = text[: text.index("  seed:  #")].count("\n") + 1
    second = text[: text.index("  identity:\n")].count("\n") + 1
    assert_fails_cleanly(built_copy, ["weights.seed: duplicate key", f"lines {first} and {second}"])


def test_duplicate_key_in_a_configfile_is_refused(built_copy):
    (built_copy / "extra.yaml").write_text("render:\n  precision: 3\n  precision: 4\n")
    assert_fails_cleanly(built_copy, ["extra.yaml: render.precision: duplicate key", "lines 2 and 3"],
                         "--configfile", "extra.yaml")


def test_non_utf8_byte_is_one_line(built_copy):
    path = built_copy / "config/config.yaml"
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")
    lines = path.read_bytes().count(b"\n")
    assert_fails_cleanly(built_copy, ["config/config.yaml: expected UTF-8 text", "0xe9", f"line {lines}"])


@pytest.mark.parametrize("key, read_as", [("010", "the integer 8"), ("yes", "the boolean True"),
                                           ("null", "null"), ("1.50", "the number 1.5")])
def test_a_key_yaml_reads_as_another_text_is_refused(built_copy, key, read_as):
    # YAML 1.1: `010:` is token 8, `null:` None, `yes:` True; the vocab would hold another token than written
    text = edit_config_text(built_copy, "vocab:\n", f"vocab:\n  {key}: [1, 0, 0]\n")
    line = text[: text.index("vocab:\n")].count("\n") + 2
    assert_fails_cleanly(built_copy, [f"config/config.yaml: vocab.{key}: YAML reads this key as {read_as}, not as "
                                      f"the text '{key}' (line {line}); expected it quoted: \"{key}\""])


@pytest.mark.parametrize("value", ["maybe", "of", ""])
def test_a_render_server_switch_it_cannot_be_is_refused(built_copy, value):
    assert_fails_cleanly(built_copy, [f"ATTNPIPE_RENDER_SERVER: expected on or off (or 1/0, true/false, yes/no), "
                                      f"got {value!r}"], env={"ATTNPIPE_RENDER_SERVER": value})


def test_nested_aliases_are_refused_without_expanding_them(built_copy):
    # 9 levels of 9 aliases: a 600-byte entry standing for 9**9 tokens (it ran for minutes, then MemoryError)
    tokens = '&a0 ["0", "1", "2", "3", "4", "5", "6", "7", "8"]'
    for level in range(1, 9):
        tokens = f"[&a{level} [{tokens}, {', '.join([f'*a{level - 1}'] * 8)}]]"
    edit_config_text(built_copy, "prompts:\n", f"prompts:\n  - {{id: bomb, tokens: {tokens}}}\n")
    assert_fails_cleanly(built_copy, ["config/config.yaml: prompts[0].tokens", "at most 1,000,000 values"])


def assert_fails_cleanly(workdir, expected, *args, env=None):
    before = snapshot(workdir / "results"), snapshot(workdir / "logs")
    # a config edit would make some jobs stale: without the check, they would run and rewrite files
    proc = snakemake(workdir, "--cores", "2", *args, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0
    assert lines and lines[-1].startswith("attnpipe: config error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert all(part in lines[-1] for part in expected), lines[-1]
    assert (snapshot(workdir / "results"), snapshot(workdir / "logs")) == before
    assert "jobid" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("content, expected", [
    (b"tokenizer: [words\n", ["bad.yaml: malformed YAML at line 2"]),
    (b"tokenizer: words\n# caf\xe9\n", ["bad.yaml: expected UTF-8 text, got byte 0xe9 at line 2"]),
    (b"tokenizer: words\n# a\x00b\n", ["bad.yaml: malformed YAML at line 2: unacceptable character #x0000"]),
    # libyaml reads the file; the pure-Python parser's fuller message is the one shown
    (b"\ttokenizer: words\n", ["bad.yaml: malformed YAML at line 1, column 1: found character '\\t'"]),
])
def test_bad_configfile_is_one_line_before_snakemake_parses_it(tmp_path, content, expected):
    # Snakemake reads --configfile files before the workflow runs (a traceback for the byte): run.sh sweep
    # checks them first with this command
    (tmp_path / "bad.yaml").write_bytes(content)
    args = ["-n", "--configfile", "bad.yaml", "--cores", "2"]
    proc = subprocess.run([sys.executable, "-m", "attnpipe.config.configfile", *args], check=False, cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("attnpipe: config error: ")
    assert all(part in proc.stderr for part in expected), proc.stderr
