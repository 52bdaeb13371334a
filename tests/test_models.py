"""Real models named in the config: tiny randomly initialised GPT-2, Llama (grouped-query attention: 4 query
heads, 2 K/V heads) and Qwen2 (q/k/v biases) built with transformers and a byte-level BPE tokenizer trained
here, offline. One real Snakemake run over all three; every head of two layers of each must equal the model's
own attention weights and per-head context. A Llama setting's video (rotation step, grouped-query heads), then
what reruns when (dry runs) and bad input.
Needs the `hf` extra (`./run.sh test` installs it)."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import (
    built_scenes,
    check_shown,
    check_video,
    copy_workflow,
    job,
    planned_jobs,
    read_config,
    snakemake,
    snapshot,
    write_config,
)

from attnpipe.look.numbers import fmt
from attnpipe.render.video import PRESETS

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
# under pytest-xdist one worker runs this module: its `built` sweep is made once
pytestmark = pytest.mark.xdist_group("models")

TOLERANCE = 1e-5
PROMPTS = ["the cat sat on the mat", "a snowman sat in the snow"]
CORPUS = ["the cat sat on the mat", "a snowman sat in the snow", "the dog ate the bone", "cats and dogs"] * 20
# name -> (config class, architecture-specific sizes); 3 layers of width 32, 4 heads
MODELS = {
    "gpt2": ("GPT2Config", {"n_embd": 32, "n_layer": 3, "n_head": 4, "n_positions": 64}),
    "llama": ("LlamaConfig", {"num_key_value_heads": 2}),
    "qwen2": ("Qwen2Config", {"num_key_value_heads": 2}),
    "mistral": ("MistralConfig", {"num_key_value_heads": 2, "sliding_window": 3}),  # shorter than the prompts
}
LLAMA_SIZES = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4,
               "max_position_embeddings": 64}
# the weight settings of the run: two layers of each model
SETTINGS = {
    "gpt2": {"model": "gpt2", "layers": [0, 2]},
    "llama": {"model": "llama", "layers": [0, 2]},
    "qwen2": {"model": "qwen2", "layers": [1, 2]},
    "mistral": {"model": "mistral", "layers": [0]},
}


def tokenizer(corpus=CORPUS, vocab_size=300, bos_token="<|endoftext|>"):
    """A byte-level BPE tokenizer (as GPT-2's: 'Ġcat'), trained on `corpus`, wrapped for transformers."""
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token=bos_token)


def build_model(name: str, folder, tok, dtype=torch.float32, config=None, **save_options) -> None:
    """A random model saved with save_pretrained in `dtype` (save_options: e.g. max_shard_size); config: its
    transformers config, by default MODELS[name]'s."""
    if config is None:
        class_name, sizes = MODELS[name]
        sizes = sizes if name == "gpt2" else {**LLAMA_SIZES, **sizes}
        config = getattr(transformers, class_name)(vocab_size=len(tok), **sizes)
    torch.manual_seed(len(name))
    model = transformers.AutoModel.from_config(config)
    with torch.no_grad():  # random everything, biases included (they start at zero)
        for param in model.parameters():
            param.normal_(0.0, 0.3)
    model.to(dtype).save_pretrained(folder, **save_options)
    tok.save_pretrained(folder)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A workflow copy with the three models in hf/<name> (relative paths: a copy of the folder still runs),
    swept once (`numeric`)."""
    wd = copy_workflow(tmp_path_factory.mktemp("models") / "wf")
    tok = tokenizer()
    for name in MODELS:
        build_model(name, wd / "hf" / name, tok)
    write_config(wd, {"models": {name: {"path": f"hf/{name}"} for name in MODELS}, "weights": SETTINGS,
                      "prompts": PROMPTS})
    snakemake(wd, "numeric", "--cores", "2", check=True)
    return wd


def reference(folder, family: str, text: str):
    """The model's own tokens (each id decoded alone, as TransformerLens's to_str_tokens, spaces shown as ␣: the
    labels attnpipe writes), attention weights per layer (h, T, T) and per-head context per layer (T, h*d_head),
    the input of the attention's output projection (c_proj / o_proj / BERT's output dense), caught with forward
    pre-hooks. The whole model in float32 (bf16 and f16 weights upcast)."""
    model = transformers.AutoModel.from_pretrained(folder, attn_implementation="eager", local_files_only=True,
                                                   dtype=torch.float32).eval()
    tok = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if family == "bert":
        outputs = [layer.attention.output.dense for layer in model.encoder.layer]
    else:
        layers = model.h if family == "gpt2" else model.layers
        outputs = [layer.attn.c_proj if family == "gpt2" else layer.self_attn.o_proj for layer in layers]
    context = {}
    hooks = [out.register_forward_pre_hook(lambda m, args, i=i: context.__setitem__(i, args[0][0].clone()))
             for i, out in enumerate(outputs)]
    encoded = tok(text, return_tensors="pt")
    try:
        with torch.no_grad():
            result = model(**encoded, output_attentions=True)
    finally:
        for hook in hooks:
            hook.remove()
    tokens = [tok.decode([i], clean_up_tokenization_spaces=False).replace(" ", "␣")
              for i in encoded["input_ids"][0].tolist()]
    return tokens, [a[0] for a in result.attentions], context


@pytest.mark.parametrize("name", list(MODELS))
def test_every_head_of_two_layers_equals_the_model(built, name):
    family = "gpt2" if name == "gpt2" else "llama"
    for prompt_id, text in zip(("the-cat-sat-on-the-mat", "a-snowman-sat-in-the-snow"), PROMPTS):
        tokens, attentions, context = reference(built / "hf" / name, family, text)
        labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
        assert "␣cat" in tokens or "␣snow" in tokens or "␣snowman" in tokens  # readable: not GPT-2's "Ġcat"
        # tokens.csv: each position's id and the tokenizer's own string beside the label every CSV's rows carry
        tok = transformers.AutoTokenizer.from_pretrained(built / "hf" / name, local_files_only=True)
        ids = tok(text)["input_ids"]
        table = pd.read_csv(built / f"results/models/{name}/{prompt_id}/tokens.csv", dtype=str, keep_default_na=False)
        assert list(table.columns) == ["position", "id", "token", "label"]
        assert table["id"].astype(int).tolist() == ids
        assert table["position"].astype(int).tolist() == list(range(len(ids)))
        assert table["token"].tolist() == tok.convert_ids_to_tokens(ids) and table["label"].tolist() == tokens
        forward = torch.load(built / f"results/models/{name}/{prompt_id}/forward.pt", weights_only=True)
        asked = SETTINGS[name]["layers"]  # the forward keeps the layers asked for, no others
        assert forward["attention_inputs"]["tensor"].shape == (len(asked), len(tokens), 32)
        assert forward["attention_inputs"]["block_labels"] == [f"layer{layer}" for layer in asked]
        for layer in SETTINGS[name]["layers"]:
            run = built / f"results/{name}-layer{layer}/{prompt_id}"
            x = pd.read_csv(run / "hidden_states.csv", index_col=0)
            assert list(x.index) == labels
            attend = torch.load(run / "attend.pt", weights_only=True)
            weights = attend["attention"]["tensor"]
            assert weights.shape == (4, len(tokens), len(tokens))
            gap = (weights - attentions[layer].double()).abs().max().item()
            assert gap < TOLERANCE, f"{name} layer {layer}: attention weights differ by {gap}"
            gap = (attend["output"]["tensor"] - context[layer].double()).abs().max().item()
            assert gap < TOLERANCE, f"{name} layer {layer}: weights·V differs from the model's context by {gap}"
            stacked = pd.read_csv(run / "attention.csv", index_col=0)
            keys = pd.read_csv(run / "keys.csv", index_col=0)
            if name == "gpt2":  # causal, 4 heads of 8 over the fused c_attn
                assert stacked.index[len(tokens)] == f"h1/{labels[0]}" and keys.shape == (len(tokens), 32)
                assert np.isinf(pd.read_csv(run / "scaled_scores.csv", index_col=0).iloc[0, 1])
            else:  # grouped-query: K/V per K/V head (2 x 8 columns), query heads 0, 1 -> kv0; 2, 3 -> kv1
                assert keys.shape == (len(tokens), 16)
                assert stacked.index[3 * len(tokens)] == f"h3(kv1)/{labels[0]}"
                rotated = pd.read_csv(run / "queries_rotated.csv", index_col=0)
                assert rotated.shape == (len(tokens), 32) and list(rotated.index) == labels
                queries = pd.read_csv(run / "queries.csv", index_col=0)
                assert np.allclose(rotated.iloc[0], queries.iloc[0])  # position 0: no rotation
                assert not np.allclose(rotated.iloc[1:], queries.iloc[1:])
    if name == "mistral":  # a query sees only the last 3 keys: those further back are masked, as the model does
        scaled = pd.read_csv(built / "results/mistral-layer0/the-cat-sat-on-the-mat/scaled_scores.csv", index_col=0)
        block = scaled.to_numpy()[: scaled.shape[1]]  # head 0
        i, j = np.indices(block.shape)
        assert np.isneginf(block[(i - j >= 3) | (j > i)]).all() and np.isfinite(block[(i - j < 3) & (j <= i)]).all()
    if name == "qwen2":  # Qwen2's projections have biases, Llama's none
        assert (pd.read_csv(built / "results/qwen2-layer1/b_query.csv", index_col=0).to_numpy() != 0).all()
    if name == "llama":
        assert (pd.read_csv(built / "results/llama-layer0/b_key.csv", index_col=0).to_numpy() == 0).all()


def test_summary_lists_every_combination_with_its_video(built):
    summary = pd.read_csv(built / "results/summary.csv", dtype=str, keep_default_na=False)
    assert len(summary) == sum(len(s["layers"]) for s in SETTINGS.values()) * len(PROMPTS)
    assert list(summary["video"]) == [f"{w}/{p}/attention.mp4" for w, p in zip(summary["weights"], summary["prompt"])]
    assert set(summary["d_model"]) == {"32"}


def test_model_jobs_ask_for_memory_by_one_layers_size(built, monkeypatch):
    """A cluster job that runs a model declares its memory from its biggest layer's float32 size (the forward
    streams the model: it holds one layer's weights at most), read from the .safetensors header without
    loading it, and its time from the whole model's."""
    from safetensors import safe_open

    from attnpipe.config.sweep import load_schema, load_sweep
    from attnpipe.resources import model_request

    monkeypatch.chdir(built)  # the models' paths are relative to the workflow
    sweep = load_sweep(read_config(built), load_schema(built / "workflow/schemas/config.schema.yaml"))
    declared = {}
    for line in snakemake(built, "-n", "--forceall", "numeric", "--printshellcmds", check=True).stdout.splitlines():
        if line.strip().startswith("rule "):
            rule = line.split()[1].rstrip(":")
        if "resources:" in line and rule in ("forward", "forward_rotary", "model_weights"):
            declared.setdefault(rule, set()).add(int(line.split("mem_mb=")[1].split(",")[0]))
    for name in MODELS:
        layers = {}
        with safe_open(built / f"hf/{name}/model.safetensors", framework="pt") as fh:
            numbers = sum(fh.get_tensor(key).numel() for key in fh.keys())
            for key in fh.keys():
                match = re.match(r"(?:layers|h)\.(\d+)\.", key)  # saved from the base model: no prefix
                if match:
                    layers[match.group(1)] = layers.get(match.group(1), 0) + fh.get_tensor(key).numel()
        model = sweep.models[name]
        assert model.float32_mb() == numbers * 4 / 2**20
        assert model.layer_float32_mb() == max(layers.values()) * 4 / 2**20 < model.float32_mb() / 3
        rule = "forward_rotary" if model.rope else "forward"
        assert model_request(model.layer_float32_mb(), model.float32_mb())["mem_mb"] in declared[rule]
    assert declared.keys() == {"forward", "forward_rotary", "model_weights"}


@pytest.fixture
def built_models(built, tmp_path):
    dest = tmp_path / "wf"
    shutil.copytree(built, dest, symlinks=True)  # mtimes and .snakemake metadata kept
    return dest


def test_a_rotary_grouped_query_setting_renders_from_its_csvs(built_models):
    """The real render job on a Llama layer (4 query heads, 2 K/V heads), head 3 only: a video and still at
    the preview preset; Q and K rotated by position with one pair written out in the stage's numbers; the
    scores from the rotated Q and K of the K/V head it reads (1), said on screen; every number on screen
    equal to the CSVs (the model's cos and sin included)."""
    settings = {**SETTINGS, "llama": {**SETTINGS["llama"], "render": {"heads": [3]}}}
    write_config(built_models, {"models": {n: {"path": f"hf/{n}"} for n in MODELS}, "weights": settings,
                                "prompts": PROMPTS})
    weights, prompt = "llama-layer0", "the-cat-sat-on-the-mat"
    folder = built_models / "results" / weights / prompt
    snakemake(built_models, f"results/{weights}/{prompt}/attention.mp4", "--cores", "2", check=True)
    check_video(folder, PRESETS["preview"])

    [(_, _, scene)] = built_scenes(built_models, only=[(weights, prompt)])
    forward = built_models / "results/models/llama" / prompt
    check_shown(built_models, weights, prompt, scene, forward=forward)
    assert scene.overlaps == []  # the rotation's steps too: no two texts on screen together overlap
    sources = {source for source, *_ in scene.shown}
    assert {"rope_cos", "rope_sin", "queries_rotated", "keys_rotated", "keys_rotated.T", "scores[3]"} <= sources
    assert not any(source.endswith(("[0]", "[1]", "[2]")) for source in sources)  # head 3 only
    d_head = 8
    # the scores' Q is head 3's block of the rotated queries, its Kᵀ K/V head 1's block of the rotated keys
    assert {j for source, i, j, _ in scene.shown if source == "queries_rotated"} <= set(range(3 * d_head, 4 * d_head))
    assert {i for source, i, j, _ in scene.shown if source == "keys_rotated.T"} == set(range(d_head, 2 * d_head))
    assert any("rotate by position (RoPE)" in text for text in scene.written)
    assert any("head 3 reads K/V head 1" in text for text in scene.written)

    # the pair written out: its inputs and result are the stage's, and they are one rotation
    pair = [re.fullmatch(r"Q_rot\[(\d+),(\d+)\] = Q\[\d+,(\d+)\]·cos ([−+]) Q\[\d+,(\d+)\]·sin = "
                         r"(\S+)×(\S+) [−+] (\S+)×(\S+) = (\S+)", text) for text in scene.written]
    pair = [m.groups() for m in pair if m]
    assert len(pair) == 2
    q, q_rot = (pd.read_csv(folder / f"{name}.csv", index_col=0).to_numpy() for name in ("queries", "queries_rotated"))
    cos, sin = (pd.read_csv(forward / f"{name}.csv", index_col=0).to_numpy() for name in ("rope_cos", "rope_sin"))
    (i, k, *_), (_, k_half, *_) = pair
    i, k, k_half = int(i), int(k), int(k_half)
    assert k_half == k + d_head // 2 and i > 0  # a position that turns
    off = 3 * d_head
    for (_, c, first, sign, second, *numbers), partner in zip(pair, (k_half, k)):
        c, sign = int(c), -1 if sign == "−" else 1
        assert (int(first), int(second)) == (c, partner)
        expected = q[i, off + c], cos[i, c], q[i, off + partner], sin[i, c], q_rot[i, off + c]
        assert [n.strip("()") for n in numbers] == [fmt(v) for v in expected]
        assert abs(q[i, off + c] * cos[i, c] + sign * q[i, off + partner] * sin[i, c] - q_rot[i, off + c]) < 1e-9


# planned_jobs lists jobs with wildcards: summary (one job over the sweep) is left out
def combination_jobs(setting: str, prompt: str, rotary: bool) -> set:
    stages = ["layer_input", "project", "attend"] + (["rotate"] if rotary else [])
    return {job(stage, weights=setting, prompt=prompt) for stage in stages}


def test_nothing_reruns(built_models):
    assert planned_jobs(built_models, "numeric") == set()


def test_adding_a_prompt_runs_one_forward_per_model_and_its_combinations(built_models):
    write_config(built_models, {"models": {n: {"path": f"hf/{n}"} for n in MODELS}, "weights": SETTINGS,
                                "prompts": [*PROMPTS, "the dog ate"]})
    expected = {job("forward", model="gpt2", prompt="the-dog-ate")}
    expected |= {job("forward_rotary", model=name, prompt="the-dog-ate") for name in MODELS if name != "gpt2"}
    for name, setting in SETTINGS.items():
        for layer in setting["layers"]:
            expected |= combination_jobs(f"{name}-layer{layer}", "the-dog-ate", name != "gpt2")
    assert planned_jobs(built_models, "numeric") == expected


def test_changing_a_layer_list_reruns_that_models_forward_and_the_added_settings(built_models):
    write_config(built_models, {"models": {n: {"path": f"hf/{n}"} for n in MODELS},
                                "weights": {**SETTINGS, "gpt2": {"model": "gpt2", "layers": [0, 1, 2]}},
                                "prompts": PROMPTS})
    # forward.pt holds the layers asked for: gpt2's forward reruns, and what reads it; no other model's
    expected = {job("model_weights", weights="gpt2-layer1")}
    for prompt in ("the-cat-sat-on-the-mat", "a-snowman-sat-in-the-snow"):
        expected.add(job("forward", model="gpt2", prompt=prompt))
        for layer in (0, 1, 2):
            expected |= combination_jobs(f"gpt2-layer{layer}", prompt, rotary=False)
    assert planned_jobs(built_models, "numeric") == expected


def test_editing_a_models_weights_reruns_that_model_only(built_models):
    from safetensors.torch import load_file, save_file

    weights = built_models / "hf/llama/model.safetensors"
    tensors = load_file(weights)
    name = next(k for k in tensors if "q_proj" in k)
    tensors[name] = tensors[name] + 0.01  # an edit of the weights, saved again
    save_file(tensors, weights, metadata={"format": "pt"})
    expected = set()
    for prompt in ("the-cat-sat-on-the-mat", "a-snowman-sat-in-the-snow"):
        expected.add(job("forward_rotary", model="llama", prompt=prompt))
        for layer in SETTINGS["llama"]["layers"]:
            expected |= combination_jobs(f"llama-layer{layer}", prompt, rotary=True)
    expected |= {job("model_weights", weights=f"llama-layer{layer}") for layer in SETTINGS["llama"]["layers"]}
    assert planned_jobs(built_models, "numeric") == expected


def test_toy_prompts_and_model_prompts_side_by_side(built_models):
    """Text prompts pair with a model's settings (its tokenizer reads them) and, where the vocab covers them,
    with the toy settings; `tokens:` prompts with the toy settings only; uncovered text with the models only."""
    write_config(built_models, {
        "models": {"gpt2": {"path": "hf/gpt2"}},
        "vocab": {"0": [1, 0], "1": [0, 1]},
        "prompts": ["01", {"id": "ten", "tokens": ["1", "0"]}, "the cat"],
        "weights": {"toy": {"shared": "identity"}, "g": {"model": "gpt2", "layer": 1}},
    })
    jobs = planned_jobs(built_models, "numeric")
    attends = {dict(w)["weights"] + "/" + dict(w)["prompt"] for rule, w in jobs if rule == "attend"}
    assert attends == {"toy/01", "toy/ten", "g/01", "g/the-cat"}
    assert {dict(w)["prompt"] for rule, w in jobs if rule == "embed"} == {"01", "ten"}


@pytest.mark.parametrize("case, expected", [
    ("missing", ("attnpipe: config error: models.m.path: expected a local Hugging Face model folder with "
                "config.json, got 'nowhere' (no such folder)")),
    ("layer", "attnpipe: config error: weights.w.layers: expected a layer of model m from 0 to 2 (3 layers), got 3"),
    ("architecture", ("attnpipe: config error: models.m.path: model_type 't5' in config.json is not supported; "
                     "expected one of: bert (BERT family, e.g. MiniLM), gpt2, llama, mistral, qwen2")),
    ("tokenizer", ("attnpipe: config error: models.m.path: expected a tokenizer in the model folder (tokenizer.json, "
                  "vocab.txt, vocab.json, tokenizer.model), found none in 'hf/bare'")),
])
def test_bad_model_input_is_one_line_before_any_job(built_models, case, expected):
    before = snapshot(built_models / "results")
    path, layers = "hf/gpt2", [0, 3] if case == "layer" else [0]
    if case == "missing":
        path = "nowhere"
    elif case in ("architecture", "tokenizer"):
        path = "hf/bare"
        (built_models / path).mkdir()
        shutil.copy(built_models / "hf/gpt2/config.json", built_models / path)
        shutil.copy(built_models / "hf/gpt2/model.safetensors", built_models / path)
        if case == "architecture":
            config = (built_models / path / "config.json").read_text().replace('"gpt2"', '"t5"')
            (built_models / path / "config.json").write_text(config)
            shutil.copy(built_models / "hf/gpt2/tokenizer.json", built_models / path)
    write_config(built_models, {"models": {"m": {"path": path}}, "weights": {"w": {"model": "m", "layers": layers}},
                                "prompts": PROMPTS})
    proc = snakemake(built_models, "numeric", "--cores", "2")
    assert proc.returncode != 0
    assert expected in (proc.stdout + proc.stderr).splitlines()
    assert snapshot(built_models / "results") == before
