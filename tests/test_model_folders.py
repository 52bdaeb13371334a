"""A model folder is input like any other: what the sweep reads from it (config.json's sizes, the .safetensors
headers, the tokenizer) is checked when the config loads, each fault one line naming the file and the key;
a model's prompts are counted with its own tokenizer against its own limit; a job that fails on a folder
leaves its error in its log.

The folders here hold a real tokenizer (byte-level BPE, trained offline) and a config.json; their weights
are a stand-in (the checks read headers only), except where a job runs. Needs the `hf` extra."""

import json
import re
import shutil

import numpy as np
import pytest
from conftest import copy_workflow, snakemake, snapshot, write_config

tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("transformers")

CORPUS = ["the cat sat on the mat", "a snowman sat in the snow", "the dog ate the bone"] * 20
GPT2 = {"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 8, "n_positions": 64, "vocab_size": 300}
LLAMA = {"model_type": "llama", "num_hidden_layers": 2, "num_attention_heads": 2, "hidden_size": 8,
         "max_position_embeddings": 64, "intermediate_size": 16, "vocab_size": 300}
PROMPT = "the cat sat on the mat"


def tokenizer_json() -> str:
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return tok.to_str()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("model-folders") / "wf")
    (wd / "tokenizer.json").write_text(tokenizer_json())
    return wd


def model_folder(wd, name: str, config: dict | list, weights: str = "safetensors"):
    """hf/<name>: config.json, tokenizer.json and weights: a whole .safetensors file, or a garbage .bin."""
    from safetensors.numpy import save_file

    folder = wd / "hf" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    shutil.copy(wd / "tokenizer.json", folder / "tokenizer.json")
    if weights == "safetensors":
        save_file({"w": np.zeros((4, 8), dtype=np.float32)}, str(folder / "model.safetensors"))
    else:
        (folder / "pytorch_model.bin").write_bytes(b"not a torch file at all")
    return folder


def use_model(wd, name: str, prompts=(PROMPT,), layers="all"):
    write_config(wd, {"models": {"m": {"path": f"hf/{name}"}}, "weights": {"w": {"model": "m", "layers": layers}},
                      "prompts": list(prompts)})


def cut(path, keep: int):
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def without(config: dict, key: str) -> dict:
    return {k: v for k, v in config.items() if k != key}


CASES = {
    "no heads": (GPT2 | {"n_head": 0}, "n_head: expected an integer from 1 to 128, got 0"),
    "layers missing": (without(LLAMA, "num_hidden_layers"),
                       "num_hidden_layers: missing; expected an integer from 1 to 256"),
    "layers a string": (LLAMA | {"num_hidden_layers": "3"}, 'num_hidden_layers: expected an integer from 1 to 256, '
                                                           'got "3"'),
    "100,000 layers": (LLAMA | {"num_hidden_layers": 100_000}, "num_hidden_layers: expected an integer from 1 to "
                                                              "256, got 100000"),
    "heads not dividing": (LLAMA | {"num_attention_heads": 3}, "num_attention_heads: expected a divisor of "
                                                              "hidden_size 8, got 3"),
    "a list": ([GPT2], "expected a JSON object of the model's settings, got a list"),
    "wider than Llama-3.1-405B": (LLAMA | {"hidden_size": 16385, "num_attention_heads": 5},
                                  "hidden_size: expected an integer from 1 to 16,384, got 16385"),
}
# Llama-3.1-405B's attention sizes (config.json), on a stand-in weights file: the checks read headers only
LLAMA_405B = LLAMA | {"hidden_size": 16384, "num_attention_heads": 128, "num_key_value_heads": 8}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_config_json_is_one_line(workdir, case):
    config, expected = CASES[case]
    folder = model_folder(workdir, "bad", config)
    use_model(workdir, "bad")
    assert_one_line(workdir, f"attnpipe: config error: models.m.path: {folder.relative_to(workdir)}/config.json: "
                             f"{expected}")


def test_llama_405b_width_is_accepted_and_its_projection_asks_for_its_weights_size(workdir):
    """project (and render) read a layer's weights.pt whole: 1.1 GB of float32 W_q, W_k, W_v at this width."""
    from attnpipe.resources import NUMERIC, weights_reader_request

    model_folder(workdir, "wide", LLAMA_405B)
    use_model(workdir, "wide")
    proc = snakemake(workdir, "-n", "numeric", "--cores", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    declared = {}
    for line in proc.stdout.splitlines():
        if match := re.match(r"^\s*(?:local)?rule (\w+):$", line):
            rule = match.group(1)
        elif "mem_mb=" in line:
            declared.setdefault(rule, set()).add(int(line.split("mem_mb=")[1].split(",")[0]))
    weights_mb = 4 * (16384 + 1) * (128 + 2 * 8) * 128 / 2**20  # W_q, W_k, W_v and biases
    assert declared["project"] == {weights_reader_request(weights_mb)["mem_mb"]} == {3500}
    assert declared["attend"] == {NUMERIC["mem_mb"]} and "model_weights" in declared


def test_a_safetensors_header_cut_short_is_one_line(workdir):
    folder = model_folder(workdir, "cut", GPT2)
    cut(folder / "model.safetensors", 40)
    use_model(workdir, "cut")
    assert_one_line(workdir, "attnpipe: config error: models.m.path: hf/cut/model.safetensors: malformed "
                             ".safetensors file (a header of")


def test_weights_cut_short_after_their_header_are_one_line(workdir):
    folder = model_folder(workdir, "short", GPT2)
    cut(folder / "model.safetensors", (folder / "model.safetensors").stat().st_size - 4)
    use_model(workdir, "short")
    assert_one_line(workdir, "attnpipe: config error: models.m.path: hf/short/model.safetensors: malformed "
                             ".safetensors file (tensor 'w': its shape, dtype or data offsets do not fit the file)")


def test_a_garbage_tokenizer_is_one_line_naming_it(workdir):
    folder = model_folder(workdir, "garbage", GPT2)
    (folder / "tokenizer.json").write_bytes(b"\xff\xfe not json")
    use_model(workdir, "garbage")
    assert_one_line(workdir, "attnpipe: config error: models.m.path: cannot read hf/garbage/tokenizer.json (")


def test_a_prompt_beyond_the_models_positions_is_one_line(workdir):
    model_folder(workdir, "gpt2", GPT2)
    long = " ".join(["the cat sat on the mat"] * 20)  # 6 tokens of the toy's words, ~120 of the model's
    use_model(workdir, "gpt2", prompts=[PROMPT, long])
    assert_one_line(workdir, "attnpipe: config error: prompts[1] ('the cat sat on the mat the ...e mat the cat sat on "
                             "the mat'): expected at most 64 tokens for model m (its position embeddings), got 120 "
                             "(model m's tokenizer)")


def test_a_model_only_prompt_is_counted_with_the_models_tokenizer(workdir):
    # 1,299 characters: beyond the toy limit of 1,024 tokens for the characters tokenizer, but ~300 of the model's
    model_folder(workdir, "wide", GPT2 | {"n_positions": 1024})
    text = ("the cat sat on the mat " * 60)[:1299]
    use_model(workdir, "wide", prompts=[text])
    proc = snakemake(workdir, "-n", "numeric", "--cores", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "forward" in proc.stdout


def test_an_unsafe_model_name_is_refused(workdir):
    model_folder(workdir, "gpt2", GPT2)
    write_config(workdir, {"models": {"../../../../elsewhere": {"path": "hf/gpt2"}},
                           "weights": {"w": {"model": "../../../../elsewhere", "layer": 0}}, "prompts": [PROMPT]})
    assert_one_line(workdir, "attnpipe: config error: models.../../../../elsewhere: unsafe name "
                             "'../../../../elsewhere'; expected ASCII letters")
    assert not (workdir.parent / "elsewhere").exists()


def test_a_failing_model_job_leaves_its_error_in_its_log(workdir):
    model_folder(workdir, "broken", GPT2, weights="bin")  # passes the checks; the jobs cannot read it
    use_model(workdir, "broken", layers=[0])
    proc = snakemake(workdir, "numeric", "--cores", "1", "--keep-going")
    assert proc.returncode != 0
    for log in ("logs/forward/m/the-cat-sat-on-the-mat.log", "logs/weights/w-layer0.log"):
        text = (workdir / log).read_text()
        assert text.startswith("attnpipe: input error: ") and text.count("\n") == 1, (log, text[-2000:])
        assert "hf/broken/pytorch_model.bin: not a torch.save zip archive" in text and "Traceback" not in text


def assert_one_line(workdir, expected: str):
    before = snapshot(workdir / "results") if (workdir / "results").exists() else {}
    proc = snakemake(workdir, "-n", "numeric", "--cores", "1")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert lines and lines[-1].startswith(expected), lines[-1:]
    assert (snapshot(workdir / "results") if (workdir / "results").exists() else {}) == before
