"""The streamed forward (attnpipe.models.stream): transformers' own model on the meta device, each weight read
from the folder as its module runs. Tiny random models of every family, saved in bf16 and in float32 (the
float32 ones under the names real checkpoints use: `model.`, `transformer.`, `bert.` prefixes, BERT's
LayerNorm gamma/beta), one Llama as pickled .bin and one in f16: every head of two layers equals transformers'
whole-model float32 forward. A sharded model asked for layer 1 runs with every later shard deleted. A weight
file that cannot give a tensor fails the job with one line naming the file and the tensor, never a random weight.
Needs the `hf` extra."""

import json
import shutil

import pytest
import torch
from conftest import copy_workflow, snakemake, write_config
from test_models import LLAMA_SIZES, build_model, reference, tokenizer

from attnpipe.models.weightfiles import TensorEntry, WeightFileError, tensor_index

transformers = pytest.importorskip("transformers")
safetensors_torch = pytest.importorskip("safetensors.torch")
pytestmark = pytest.mark.xdist_group("stream")

TOLERANCE = 1e-5
PROMPT = "the cat sat on the mat"
PROMPT_ID = "the-cat-sat-on-the-mat"
LAYERS = [0, 2]
FAMILY = {"bert": "bert", "gpt2": "gpt2", "llama": "llama", "qwen2": "llama", "mistral": "llama"}
PREFIX = {"bert": "bert.", "gpt2": "transformer.", "llama": "model."}  # as *ForMaskedLM / *LMHeadModel save them
DTYPES = {"bf16": torch.bfloat16, "f32": torch.float32}


def bert_config(tok):
    return transformers.BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                   intermediate_size=64, max_position_embeddings=64)


def build(name, folder, tok, dtype, **save_options):
    build_model(name, folder, tok, dtype=dtype, config=bert_config(tok) if name == "bert" else None, **save_options)


def as_real_checkpoint(source, dest, name):
    """source's weights under the names real checkpoints give them (and BERT's LayerNorm as gamma/beta)."""
    shutil.copytree(source, dest)
    tensors = safetensors_torch.load_file(dest / "model.safetensors")
    renamed = {}
    for key, tensor in tensors.items():
        if name == "bert" and "LayerNorm." in key:
            key = key.removesuffix(".weight") + ".gamma" if key.endswith(".weight") else key[:-5] + ".beta"
        renamed[PREFIX[FAMILY[name]] + key] = tensor
    safetensors_torch.save_file(renamed, dest / "model.safetensors", metadata={"format": "pt"})


def as_bin(source, dest):
    shutil.copytree(source, dest)
    tensors = safetensors_torch.load_file(dest / "model.safetensors")
    torch.save(tensors, dest / "pytorch_model.bin")
    (dest / "model.safetensors").unlink()


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    """A workflow copy swept once (`numeric`) over every family in bf16 and float32, a .bin and an f16 Llama,
    layers 0 and 2 of each; ref/ holds, for each folder, one transformers reads as saved (same numbers)."""
    wd = copy_workflow(tmp_path_factory.mktemp("stream") / "wf")
    tok = tokenizer()
    refs = {}
    for name in FAMILY:
        for dtype_name, dtype in DTYPES.items():
            model = f"{name}-{dtype_name}"
            build(name, wd / "ref" / model, tok, dtype)
            if dtype_name == "f32":
                as_real_checkpoint(wd / "ref" / model, wd / "hf" / model, name)
            else:
                shutil.copytree(wd / "ref" / model, wd / "hf" / model)
            refs[model] = (wd / "ref" / model, FAMILY[name])
    as_bin(wd / "ref/llama-bf16", wd / "hf/llama-bin")
    refs["llama-bin"] = refs["llama-bf16"]
    build("llama", wd / "hf/llama-f16", tok, torch.float16)  # f16 converts exactly too
    refs["llama-f16"] = (wd / "hf/llama-f16", "llama")
    write_config(wd, {"models": {m: {"path": f"hf/{m}"} for m in refs},
                      "weights": {m: {"model": m, "layers": LAYERS} for m in refs}, "prompts": [PROMPT]})
    snakemake(wd, "numeric", "--cores", "2", check=True)
    return wd, refs


def check_heads(wd, setting, layer, ref_folder, family):
    """Every head's attention weights and context (attend.pt) equal the whole model's."""
    tokens, attentions, context = reference(ref_folder, family, PROMPT)
    attend = torch.load(wd / f"results/{setting}-layer{layer}/{PROMPT_ID}/attend.pt", weights_only=True)
    weights = attend["attention"]["tensor"]
    assert weights.shape == (4, len(tokens), len(tokens))
    assert attend["attention"]["row_labels"] == [f"{i}:{t}" for i, t in enumerate(tokens)]
    gap = (weights - attentions[layer].double()).abs().max().item()
    assert gap < TOLERANCE, f"{setting} layer {layer}: attention weights differ by {gap}"
    gap = (attend["output"]["tensor"] - context[layer].double()).abs().max().item()
    assert gap < TOLERANCE, f"{setting} layer {layer}: weights·V differs from the model's context by {gap}"


@pytest.mark.parametrize("model", [f"{n}-{d}" for n in FAMILY for d in DTYPES] + ["llama-bin", "llama-f16"])
def test_every_head_of_two_layers_equals_the_whole_model(streamed, model):
    wd, refs = streamed
    for layer in LAYERS:
        check_heads(wd, model, layer, *refs[model])
    forward = torch.load(wd / f"results/models/{model}/{PROMPT_ID}/forward.pt", weights_only=True)
    assert forward["attention_inputs"]["block_labels"] == ["layer0", "layer2"]  # the layers asked, no others
    assert ("rope_cos" in forward) == (refs[model][1] == "llama")


def test_a_sharded_model_asked_for_layer_1_needs_no_later_shard(tmp_path):
    """Shards of ~2 KB: every shard holding nothing of the embeddings or layers 0-1 is deleted (the model's
    last layer and final norm with them), and layer 1 still equals the whole model's."""
    wd = copy_workflow(tmp_path / "wf")
    tok = tokenizer()
    build("llama", wd / "ref/llama", tok, torch.bfloat16)
    build("llama", wd / "hf/llama", tok, torch.bfloat16, max_shard_size="2KB")
    weight_map = json.loads((wd / "hf/llama/model.safetensors.index.json").read_text())["weight_map"]
    needed = {shard for name, shard in weight_map.items() if not name.startswith(("layers.2.", "norm."))}
    deleted = set(weight_map.values()) - needed
    assert len(deleted) >= 3 and all(not name.startswith("layers.2.") for name in weight_map
                                     if weight_map[name] in needed)
    for shard in deleted:
        (wd / "hf/llama" / shard).unlink()
    write_config(wd, {"models": {"llama": {"path": "hf/llama"}}, "weights": {"llama": {"model": "llama", "layer": 1}},
                      "prompts": [PROMPT]})
    snakemake(wd, "numeric", "--cores", "2", check=True)
    attend = torch.load(wd / f"results/llama/{PROMPT_ID}/attend.pt", weights_only=True)
    tokens, attentions, context = reference(wd / "ref/llama", "llama", PROMPT)
    assert (attend["attention"]["tensor"] - attentions[1].double()).abs().max().item() < TOLERANCE
    assert (attend["output"]["tensor"] - context[1].double()).abs().max().item() < TOLERANCE


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """A Llama in bf16 shards of ~2 KB (its index names each tensor's shard), and one in a single file."""
    folder = tmp_path_factory.mktemp("shards")
    tok = tokenizer()
    build("llama", folder / "sharded", tok, torch.bfloat16, max_shard_size="2KB")
    build("llama", folder / "single", tok, torch.bfloat16)
    return folder


def broken_copy(sharded, tmp_path, case):
    """A copy of a model folder with one fault; -> (folder, the parts of the one line it must fail with)."""
    source = sharded / ("single" if case in ("dtype", "missing tensor") else "sharded")
    folder = tmp_path / case
    shutil.copytree(source, folder)
    index_path = folder / "model.safetensors.index.json"
    weight_map = json.loads(index_path.read_text())["weight_map"] if index_path.exists() else {}
    name = "layers.0.self_attn.k_proj.weight"  # read by layer 0, before the attention input of layer 1
    if case == "missing shard":
        (folder / weight_map[name]).unlink()
        return folder, [str(index_path), weight_map[name], "no such file"]
    if case == "truncated shard":
        shard = folder / weight_map[name]
        shard.write_bytes(shard.read_bytes()[:-10])
        return folder, [str(shard), "cut short", "ends at byte"]
    if case == "index names a tensor not in its shard":
        other = next(shard for shard in weight_map.values() if shard != weight_map[name])
        index = json.loads(index_path.read_text())
        index["weight_map"][name] = other
        index_path.write_text(json.dumps(index))
        return folder, [str(index_path), other, repr(name), "does not hold it"]
    tensors = safetensors_torch.load_file(folder / "model.safetensors")
    if case == "dtype":
        tensors[name] = tensors[name].to(torch.int8)
    else:  # missing tensor
        del tensors[name]
    safetensors_torch.save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    if case == "dtype":
        return folder, [str(folder / "model.safetensors"), repr(name), "stored as I8", "F32, F16, BF16"]
    return folder, [str(folder / "model.safetensors"), repr(name), "no tensor"]


BAD_CASES = ["missing shard", "truncated shard", "index names a tensor not in its shard", "dtype", "missing tensor"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_a_weight_file_that_cannot_give_a_tensor_fails_the_job_with_one_line(sharded, tmp_path, case):
    """The forward job itself (its stage, as its rule calls it): one line naming the file and the tensor,
    nothing written; tensor_index, the check others call, says the same."""
    from attnpipe.stages import forward

    folder, parts = broken_copy(sharded, tmp_path, case)
    outputs = {"tensors": tmp_path / "out/forward.pt", "attention_inputs_csv": tmp_path / "out/attention_inputs.csv"}
    settings = {"path": str(folder), "family": "llama", "text": PROMPT, "layers": [1]}
    with pytest.raises(WeightFileError) as err:
        forward.run(settings, {}, outputs, str(tmp_path / "forward.log"))
    message = str(err.value)
    assert "\n" not in message and all(part in message for part in parts), message
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    with pytest.raises(WeightFileError) as err:
        tensor_index(folder, ["embed_tokens.weight", "layers.0.self_attn.k_proj.weight"])
    assert "\n" not in str(err.value) and all(part in str(err.value) for part in parts), str(err.value)


def test_tensor_index_lists_each_tensors_file_dtype_and_shape(sharded):
    index = tensor_index(sharded / "sharded")
    weight_map = json.loads((sharded / "sharded/model.safetensors.index.json").read_text())["weight_map"]
    assert set(index) == set(weight_map)
    q = index["layers.1.self_attn.q_proj.weight"]
    hidden = LLAMA_SIZES["hidden_size"]
    assert q == TensorEntry(sharded / "sharded" / weight_map["layers.1.self_attn.q_proj.weight"], "BF16",
                            (hidden, hidden))
    # asking for some tensors opens only their shards: one of layer 0 still reads with layer 2's shard gone
    (sharded / "sharded" / weight_map["layers.2.self_attn.q_proj.weight"]).rename(sharded / "aside")
    try:
        assert tensor_index(sharded / "sharded", ["layers.0.self_attn.q_proj.weight"]).keys() == {
            "layers.0.self_attn.q_proj.weight"}
        with pytest.raises(WeightFileError, match="no such file"):
            tensor_index(sharded / "sharded")
    finally:
        (sharded / "aside").rename(sharded / "sharded" / weight_map["layers.2.self_attn.q_proj.weight"])


def test_a_missing_shard_fails_the_snakemake_job_with_one_line(sharded, tmp_path):
    """Through a real run: the forward job's error is one line in the terminal and its log, no traceback, and
    it writes no forward.pt."""
    wd = copy_workflow(tmp_path / "wf")
    folder, parts = broken_copy(sharded, wd / "hf", "missing shard")
    write_config(wd, {"models": {"m": {"path": str(folder)}}, "weights": {"w": {"model": "m", "layer": 1}},
                      "prompts": [PROMPT]})
    proc = snakemake(wd, f"results/models/m/{PROMPT_ID}/forward.pt", "--cores", "1")
    assert proc.returncode != 0
    line = next(line for line in proc.stderr.splitlines() if line.startswith("attnpipe: input error: model 'm'"))
    assert all(part in line for part in parts), line
    log = (wd / f"logs/forward/m/{PROMPT_ID}.log").read_text()
    assert line in log and "Traceback" not in log
    assert not (wd / f"results/models/m/{PROMPT_ID}/forward.pt").exists()
