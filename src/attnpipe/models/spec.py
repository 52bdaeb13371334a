"""`models:` and the weight settings that name one, checked at config load from each folder's config.json.

No torch and no transformers here as a rule: Snakemake parses the config on every run, and importing them costs
seconds. The exceptions are remembered under .snakemake/attnpipe/: a folder's first tensor check (complete) and the
count of a prompt within TOKEN_MARGIN of its model's limit. A setting {model, layer: L} is one weight setting;
{model, layers: all | [..]} expands, in place, to one setting per layer named <name>-layer<L>.
"""

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..limits import MAX_HEADS, MAX_TOKENS, MAX_WIDTH
from ..look.heads import chosen_heads
from .families import BY_MODEL_TYPE, SUPPORTED
from .folder import (
    TOKENIZER_EXTRAS,
    TOKENIZER_FILES,
    ModelConfigError,
    first_line,
    json_kind,
    safetensors_header,
    safetensors_numel,
)

# config.json model_type -> architecture family (how the attention input and weights are found)
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
SETTING_KEYS = {"model", "layer", "layers", "render"}
# A model's sizes, read from config.json, bounded like a toy setting's (attnpipe.limits): `layers: all` makes one
# weight setting per layer, so a config.json claiming 100,000 layers would plan a DAG for minutes. The deepest
# open models have ~130 layers.
MAX_LAYERS = 256
# A prompt counted by tokenizer.json within this many tokens of its model's limit is counted again as the forward
# tokenizes (transformers, which may add a BOS or EOS token that tokenizer.json does not).
TOKEN_MARGIN = 8
TOKEN_COUNTS = Path(".snakemake/attnpipe/token-counts.json")


@dataclass
class Model:
    name: str
    path: str
    model_type: str
    layers: int
    heads: int
    kv_heads: int  # < heads: grouped-query attention
    head_dim: int
    rope: bool  # rotary position embedding: a `rotate` stage between project and attend
    causal: bool
    weight_files: list[str]  # config.json and the weights: the `model_weights` job's inputs
    tokenizer_files: list[str]
    positions: int = MAX_TOKENS  # the most tokens its position embeddings take (max_position_embeddings, n_positions)
    weights_numel: int = 0  # numbers in its .safetensors files, from their headers
    scales: dict = field(default_factory=dict)  # layer -> scale where not 1/sqrt(d_head) (GPT-2 options)
    windows: dict = field(default_factory=dict)  # layer -> its sliding window (Mistral; Qwen2 where enabled)
    hub: object = None  # a hub model's repository and commit (attnpipe.models.hub.HubModel); None for a folder
    key: str = ""  # the config key that names its files: models.<name>.path or .hub
    # the tensors its weight files hold, name -> (file, dtype, shape), those the index names in a shard that is
    # not there (name -> shard), and the index's weight_map; tensors None for pickled .bin weights
    tensors: dict | None = None
    absent: dict = field(default_factory=dict)
    weight_map: dict | None = None
    width: int = 0  # d_model (hidden_size, GPT-2's n_embd)

    @property
    def family(self) -> str:
        return BY_MODEL_TYPE[self.model_type].name

    def files(self) -> list[str]:
        """Everything a forward pass reads: editing any of them reruns this model's work, nothing else."""
        return self.weight_files + self.tokenizer_files

    def float32_mb(self) -> float:
        """The weights' size once loaded in float32, as the model jobs load them: from each .safetensors
        file's header (shapes, read at config load), else twice a file's size (as if stored in 16 bits)."""
        total = 4 * self.weights_numel
        for name in self.weight_files:
            if name.endswith(".bin"):
                total += 2 * os.stat(name).st_size
        return total / 2**20

    def layer_float32_mb(self) -> float:
        """The biggest layer's weights in float32: what a streamed model job holds at most (one layer), from
        the .safetensors headers, else a .bin folder's size shared by its layers (as if stored in 16 bits)."""
        from .weightfiles import layer_numels  # torch-free

        numels = layer_numels(self.path)
        if numels:
            return 4 * max(numels.values()) / 2**20
        return self.float32_mb() / self.layers

    def attention_weights_mb(self) -> float:
        """One layer's W_q, W_k, W_v and biases as its weights.pt holds them (float32), in MB."""
        return 4 * (self.width + 1) * (self.heads + 2 * self.kv_heads) * self.head_dim / 2**20

    def count_tokens(self, texts: list[str], limit: int | None = None) -> list[int]:
        """How many tokens the forward pass reads of each text: the model's tokenizer with its special tokens,
        no padding and no truncation (a tokenizer.json may store both: MiniLM's pads and cuts every text to 128).
        From tokenizer.json with the `tokenizers` library (a fraction of a second; transformers' import costs
        seconds at every Snakemake start); through transformers, as the forward tokenizes, for a folder without
        one and for the texts within TOKEN_MARGIN of `limit` (transformers may rebuild the special tokens from
        tokenizer_config.json: at the limit a token decides)."""
        folder = Path(self.path)
        where = self.key
        if not (folder / "tokenizer.json").is_file():
            return self._count_with_transformers(texts)
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            counts = [len(encoding.ids) for encoding in tokenizer.encode_batch(texts)]
        except Exception as exc:  # tokenizers raises plain Exceptions (and UnicodeDecodeError)
            raise ModelConfigError(f"{where}: cannot read {folder / 'tokenizer.json'} ({first_line(exc)}); "
                                   "expected a tokenizer.json saved by Hugging Face tokenizers") from None
        near = [i for i, count in enumerate(counts) if limit is not None and count >= limit - TOKEN_MARGIN]
        if near:
            for i, count in zip(near, self._counted_near_the_limit([texts[i] for i in near])):
                counts[i] = count
        return counts

    def _counted_near_the_limit(self, texts: list[str]) -> list[int]:
        """transformers' counts, remembered under .snakemake/attnpipe/ by the tokenizer files' contents and the
        text: importing transformers at every Snakemake start (every cluster job's too) costs seconds and 250 MB."""
        import hashlib
        from importlib.metadata import version

        from .identity import fingerprint, remembered

        tokenizer = fingerprint(self.tokenizer_files)
        keys = [hashlib.sha256(json.dumps([version("transformers"), tokenizer, text]).encode()).hexdigest()
                for text in texts]
        counts = remembered(TOKEN_COUNTS)
        if any(key not in counts for key in keys):
            counts.update(zip(keys, self._count_with_transformers(texts)))
            remembered(TOKEN_COUNTS, counts)
        return [counts[key] for key in keys]

    def _count_with_transformers(self, texts: list[str]) -> list[int]:
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        folder = Path(self.path)
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # its note on a text beyond the model's length: the check says it
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            return [len(ids) for ids in tokenizer(texts)["input_ids"]]  # as hf.forward: no padding, no truncation
        except Exception as exc:
            files = ", ".join(Path(f).name for f in self.tokenizer_files)
            raise ModelConfigError(f"{self.key}: cannot load the tokenizer in {str(folder)!r} ({files}: "
                                   f"{first_line(exc)}); expected files transformers can read") from None
        finally:
            hf_logging.set_verbosity(verbosity)


@dataclass
class ModelSetting:
    name: str
    model: Model
    layer: int
    attention: dict  # as a toy setting's: scale, causal, softmax, heads (+ kv_heads with GQA)
    show_heads: list[int]
    detail_heads: list[int]

    @property
    def features(self) -> tuple[str, ...]:
        """Which stage files it needs (attnpipe.store.layout.STAGES): a model's, and a rotary model's."""
        return ("any", "model", *(("rotary",) if self.model.rope else ()))

    def files(self) -> list[str]:
        return self.model.weight_files


def is_model_setting(setting) -> bool:
    return isinstance(setting, dict) and "model" in setting


def resolve_models(config: dict) -> dict[str, Model]:
    if config.get("models") and importlib.util.find_spec("transformers") is None:  # looked up, not imported
        raise ModelConfigError("models: running a model needs the hf extra (transformers); expected it installed: "
                               ".venv/bin/pip install -e '.[hf]' (./run.sh test installs it)")
    return {str(name): _resolve_model(str(name), entry) for name, entry in (config.get("models") or {}).items()}


def _resolve_model(name: str, entry: dict) -> Model:
    """A local folder (path:) as it is; a hub repository (hub:, revision:) as the cache's snapshot of the commit
    its revision names (attnpipe.models.hub: the small files fetched here, the weights by the fetch_model job)."""
    where = f"models.{name}"
    if ("path" in entry) == ("hub" in entry):
        raise ModelConfigError(f"{where}: expected exactly one of path: (a local model folder) or hub: (a "
                               f"repository on the Hugging Face hub), got {'both' if 'path' in entry else 'neither'}")
    if "path" in entry:
        if "revision" in entry:
            raise ModelConfigError(f"{where}.revision: a revision goes with hub:, not path:; expected it left out")
        return _read_model(name, entry["path"])
    if "revision" not in entry:
        raise ModelConfigError(f"{where}.revision: missing; expected the tag, branch or commit of {entry['hub']} "
                               "to fetch (a commit hash runs the same model forever)")
    from . import hub  # huggingface_hub is imported only where a model comes from the hub

    source = hub.resolve(name, entry["hub"], entry["revision"])
    model = _read_model(name, source.folder, key=f"{where}.hub", weights=source.paths(source.weights),
                        tensors=source.tensors,
                        numel=source.numel)
    model.hub = source
    return model


def expand_setting(name: str, setting: dict, models: dict[str, Model]) -> list[ModelSetting]:
    """One ModelSetting per layer the setting names, checked against its model."""
    where = f"weights.{name}"
    extra = sorted(set(setting) - SETTING_KEYS)
    if extra:
        raise ModelConfigError(f"{where}.{extra[0]}: unknown key for a model's setting; expected model, layer or "
                               "layers, render (the weights and attention options come from the model)")
    if setting["model"] not in models:
        known = ", ".join(sorted(models)) or "none (add a models: section)"
        raise ModelConfigError(f"{where}.model: expected a name under models: ({known}), got {setting['model']!r}")
    model = models[setting["model"]]
    if ("layer" in setting) == ("layers" in setting):
        raise ModelConfigError(f"{where}: expected exactly one of layer: L or layers: all | [..], got "
                               f"{'both' if 'layer' in setting else 'neither'}")
    if "layer" in setting:
        layers, key, names = [setting["layer"]], f"{where}.layer", [name]
    else:
        layers = list(range(model.layers)) if setting["layers"] == "all" else list(setting["layers"])
        key, names = f"{where}.layers", [f"{name}-layer{layer}" for layer in layers]
    for layer in layers:
        if not 0 <= layer < model.layers:
            raise ModelConfigError(f"{key}: expected a layer of model {model.name} from 0 to {model.layers - 1} "
                                   f"({model.layers} layers), got {layer}")
    show_heads, detail_heads = chosen_heads(setting.get("render", {}), model.heads, where, ModelConfigError)
    return [ModelSetting(name=n, model=model, layer=layer, attention=_attention(model, layer),
                         show_heads=show_heads, detail_heads=detail_heads) for n, layer in zip(names, layers)]


def _attention(model: Model, layer: int) -> dict:
    options = {"scale": model.scales.get(layer, "1/sqrt(d_head)"), "causal": model.causal, "softmax": True,
               "heads": model.heads}
    if model.kv_heads != model.heads:
        options["kv_heads"] = model.kv_heads
    if layer in model.windows:
        options["window"] = model.windows[layer]
    return options


def _read_model(name: str, path: str, key: str = "", weights: list[str] | None = None,
                numel: int | None = None, tensors: dict | None = None) -> Model:
    """A model folder's model; a hub model's snapshot folder comes with its weight files, their size and their
    tensors (name -> (file, dtype, shape), from the headers: the fetch_model job brings the files)."""
    where = key or f"models.{name}.path"
    folder = Path(path)
    if not (folder / "config.json").is_file():
        what = "no such folder" if not folder.is_dir() else "no config.json in it"
        raise ModelConfigError(f"{where}: expected a local Hugging Face model folder with config.json, got "
                               f"{path!r} ({what})")
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelConfigError(f"{where}: cannot read {folder / 'config.json'}: {first_line(exc)}") from None
    if not isinstance(cfg, dict):
        raise ModelConfigError(f"{where}: {folder / 'config.json'}: expected a JSON object of the model's settings, "
                               f"got {json_kind(cfg)}")
    model_type = cfg.get("model_type")
    if not isinstance(model_type, str) or model_type not in BY_MODEL_TYPE:
        raise ModelConfigError(f"{where}: model_type {model_type!r} in config.json is not supported; expected one "
                               f"of: {SUPPORTED}")
    if weights is None:
        weights = sorted({str(p) for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern) if p.is_file()})
    if not weights:
        raise ModelConfigError(f"{where}: expected the model's weights (*.safetensors or *.bin) in {path!r}, "
                               "found none")
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise ModelConfigError(f"{where}: expected a tokenizer in the model folder ({', '.join(TOKENIZER_FILES)}), "
                               f"found none in {path!r}")
    tokenizer = [str(folder / f) for f in TOKENIZER_FILES + TOKENIZER_EXTRAS if (folder / f).is_file()]
    if numel is None:
        numel = sum(safetensors_numel(Path(f), where) for f in weights if f.endswith(".safetensors"))
    settings = _Settings(cfg, f"{where}: {folder / 'config.json'}")
    sizes = _sizes(settings, model_type)
    family = BY_MODEL_TYPE[model_type]
    model = Model(name=name, path=path, model_type=model_type, rope=family.rope,
                  causal=family.causal, weight_files=[str(folder / "config.json"), *weights],
                  tokenizer_files=tokenizer, weights_numel=numel, key=where, **sizes)
    if tensors is not None:  # a hub model's, from its headers: its weight files are not here yet
        model.tensors, model.weight_map = tensors, _weight_map(folder / "model.safetensors.index.json", where)
    else:
        model.tensors, model.absent, model.weight_map = _folder_tensors(folder, where)
    model.windows = _sliding_windows(settings, model_type, model.layers)
    if model_type == "gpt2":  # GPT-2's optional scalings, as GPT2Attention applies them
        if not cfg.get("scale_attn_weights", True):
            model.scales = {layer: "none" for layer in range(model.layers)}
        elif cfg.get("scale_attn_by_inverse_layer_idx", False):
            model.scales = {layer: model.head_dim ** -0.5 / (layer + 1) for layer in range(model.layers)}
    return model


def _sliding_windows(settings: "_Settings", model_type: str, layers: int) -> dict[int, int]:
    """layer -> sliding window, as transformers applies them: Mistral's on every layer; Qwen2's only with
    use_sliding_window, on the layers its layer_types name (else those from max_window_layers on)."""
    cfg = settings.cfg
    if not cfg.get("sliding_window") or model_type not in ("mistral", "qwen2"):
        return {}
    window = settings.int("sliding_window", 1, 2**31)
    if model_type == "mistral":
        return dict.fromkeys(range(layers), window)
    if not cfg.get("use_sliding_window"):
        return {}
    types = cfg.get("layer_types")
    if types is None:
        first = settings.int("max_window_layers", 0, 2**31, 28)
        types = ["sliding_attention" if layer >= first else "full_attention" for layer in range(layers)]
    if not isinstance(types, list) or len(types) != layers or not all(isinstance(t, str) for t in types):
        raise ModelConfigError(f"{settings.where}: layer_types: expected a list of {layers} names (one per layer), "
                               f"got {json.dumps(types)[:60]}")
    return {layer: window for layer, kind in enumerate(types) if kind == "sliding_attention"}


class _Settings:
    """config.json's integers, each checked: present (or defaulted), an integer, within bounds."""

    def __init__(self, cfg: dict, where: str):
        self.cfg, self.where = cfg, where

    def int(self, key: str, low: int, high: int, default=None) -> int:
        value = self.cfg.get(key, default)
        if value is None and default is None and key not in self.cfg:
            raise ModelConfigError(f"{self.where}: {key}: missing; expected an integer from {low} to {high:,}")
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ModelConfigError(f"{self.where}: {key}: expected an integer from {low} to {high:,}, got "
                                   f"{json.dumps(value)[:60]}")
        return value

    def optional(self, key: str, low: int, high: int):
        return self.int(key, low, high) if self.cfg.get(key) is not None else None


def _sizes(cfg: _Settings, model_type: str) -> dict:
    """layers, heads, kv_heads, head_dim and positions, checked against the limits (every setting and job reads
    them: a zero, a string or a million layers must stop here, in one line naming config.json and the key)."""
    family = BY_MODEL_TYPE[model_type]
    names, defaults = family.size_keys, {**family.size_defaults, "positions": family.positions[model_type]}
    layers = cfg.int(names["layers"], 1, MAX_LAYERS, defaults.get("layers"))
    heads = cfg.int(names["heads"], 1, MAX_HEADS, defaults.get("heads"))
    hidden = cfg.int(names["hidden"], 1, MAX_WIDTH, defaults.get("hidden"))
    positions = cfg.int(names["positions"], 1, 2**31, defaults["positions"])
    kv_heads = cfg.optional("num_key_value_heads", 1, heads) or heads
    if heads % kv_heads:
        raise ModelConfigError(f"{cfg.where}: num_key_value_heads: expected a divisor of {names['heads']} {heads}, "
                               f"got {kv_heads}")
    head_dim = cfg.optional("head_dim", 1, MAX_WIDTH)
    if head_dim is None:
        if hidden % heads:
            raise ModelConfigError(f"{cfg.where}: {names['heads']}: expected a divisor of {names['hidden']} "
                                   f"{hidden}, got {heads}")
        head_dim = hidden // heads
    if heads * head_dim > MAX_WIDTH:
        raise ModelConfigError(f"{cfg.where}: expected heads x head_dim of at most {MAX_WIDTH}, got {heads} x "
                               f"{head_dim}")
    return {"layers": layers, "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim, "positions": positions,
            "width": hidden}


def check_tensors(model: Model, deepest: int) -> None:
    """Every tensor the sweep's jobs read of `model` (up to its layer `deepest`: the forward stops there) is in
    the files transformers loads, of the shape config.json gives (models.complete asks transformers): a missing
    one would be random numbers, or a failed job. A shard holding only deeper layers may be absent."""
    from . import complete

    if model.tensors is None:  # pickled .bin weights: their names cannot be read without unpickling them
        return
    folder, where, tensors, weight_map = Path(model.path), model.key, model.tensors, model.weight_map
    try:
        wrong = complete.problem(folder, tensors, deepest)
    except Exception as exc:  # config.json passed our checks, but transformers cannot build the model from it
        raise ModelConfigError(f"{where}: {folder / 'config.json'}: transformers cannot build the model from it "
                               f"({first_line(exc)}); expected a config.json saved by transformers") from None
    if wrong is None:
        return
    name, what = wrong
    index = folder / "model.safetensors.index.json"
    # the index's (checkpoint's) spelling, where it names the tensor with a prefix (`transformer.`, `bert.`, ..)
    listed = next((key for key in [*(weight_map or {}), *tensors] if key == name or key.endswith("." + name)), None)
    if listed in model.absent:
        shard = model.absent[listed]
        what = "no such file in the folder" if Path(shard).name == shard else "not a file name"
        raise ModelConfigError(f"{where}: {index} names shard {shard!r} (for tensor {listed!r}), {what}; "
                               "expected every shard it names beside it")
    if what != "missing":
        file = tensors.get(listed or name, (None,))[0]
        raise ModelConfigError(f"{where}: tensor {listed or name!r} in {file}: {what}")
    if weight_map is None:
        place = f"{folder / 'model.safetensors'}"
    elif listed in weight_map:
        place = f"{folder / weight_map[listed]} (where {index} puts it)"
    else:
        place = f"any shard {index} names"
    raise ModelConfigError(f"{where}: tensor {listed or name!r} is not in {place}; expected every tensor the "
                           "model reads (transformers would fill a missing one with random numbers)")


def _weight_map(index: Path, where: str) -> dict | None:
    """model.safetensors.index.json's weight_map (tensor -> shard file), None without an index."""
    if not index.is_file():
        return None
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise ModelConfigError(f"{where}: {index}: expected a JSON object whose weight_map names each "
                               "tensor's shard file") from None
    return weight_map


def _folder_tensors(folder: Path, where: str) -> tuple[dict | None, dict, dict | None]:
    """The tensors transformers loads from the folder, name -> (file, dtype, shape), from the headers of
    model.safetensors, else of the shards model.safetensors.index.json names; the tensors of the shards it names
    that are not there (name -> shard: check_tensors decides whether the sweep needs them); that index's
    weight_map. Tensors None for a folder of pickled .bin weights."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    weight_map, absent = None, {}
    if single.is_file():
        files = [single]
    elif index.is_file():
        weight_map = _weight_map(index, where)
        files = []
        for shard in sorted(set(weight_map.values())):
            if Path(shard).name != shard or not (folder / shard).is_file():
                absent.update({tensor: shard for tensor, file in weight_map.items() if file == shard})
            else:
                files.append(folder / shard)
    elif any(folder.glob("*.bin")) or any(folder.glob("*.bin.index.json")):
        return None, {}, None
    else:
        found = ", ".join(sorted(p.name for p in folder.glob("*.safetensors")))
        raise ModelConfigError(f"{where}: expected model.safetensors or model.safetensors.index.json (the names "
                               f"transformers loads), found {found}")
    tensors = {}
    for file in files:
        for name, entry in safetensors_header(file, where).items():
            if name != "__metadata__":
                tensors[name] = (str(file), entry["dtype"], entry["shape"])
    return tensors, absent, weight_map
