"""`models:` and the weight settings that name one, checked at config load from each folder's config.json.

No torch and no transformers here: Snakemake parses the config on every run, and importing them costs
seconds. A setting {model, layer: L} is one weight setting; {model, layers: all | [..]} expands, in
place, to one setting per layer named <name>-layer<L>.
"""

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..limits import MAX_HEADS, MAX_TOKENS, MAX_WIDTH
from ..render.heads import chosen_heads

# config.json model_type -> architecture family (how the attention input and weights are found)
FAMILIES = {"bert": "bert", "gpt2": "gpt2", "llama": "llama", "mistral": "llama", "qwen2": "llama"}
SUPPORTED = "bert (BERT family, e.g. MiniLM), gpt2, llama, mistral, qwen2"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model")
TOKENIZER_EXTRAS = ("tokenizer_config.json", "special_tokens_map.json", "merges.txt", "added_tokens.json")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
SETTING_KEYS = {"model", "layer", "layers", "render"}
# A model's sizes, read from config.json, bounded like a toy setting's (attnpipe.limits): `layers: all` makes one
# weight setting per layer, so a config.json claiming 100,000 layers would plan a DAG for minutes. The deepest
# open models have ~130 layers.
MAX_LAYERS = 256
MAX_HEADER_BYTES = 100_000_000  # a .safetensors JSON header (safetensors' own limit)
# bytes per number of each .safetensors dtype (the header's data offsets must agree with the shapes)
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
               "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
# Where config.json leaves the position limit out, transformers' default for the architecture.
DEFAULT_POSITIONS = {"bert": 512, "gpt2": 1024, "llama": 2048, "mistral": 4096 * 32, "qwen2": 32768}


class ModelConfigError(ConfigError):
    """str(err) is the one line to show."""


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
    width: int = 0  # d_model (hidden_size, GPT-2's n_embd)

    @property
    def family(self) -> str:
        return FAMILIES[self.model_type]

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

    def count_tokens(self, texts: list[str]) -> list[int]:
        """How many tokens the model's tokenizer makes of each text, special tokens included (what the forward
        pass reads). From tokenizer.json with the `tokenizers` library (a fraction of a second; transformers'
        import costs seconds at every Snakemake start); a folder without one through transformers."""
        folder = Path(self.path)
        where = f"models.{self.name}.path"
        if (folder / "tokenizer.json").is_file():
            from tokenizers import Tokenizer

            try:
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                return [len(encoding.ids) for encoding in tokenizer.encode_batch(texts)]
            except Exception as exc:  # tokenizers raises plain Exceptions (and UnicodeDecodeError)
                raise ModelConfigError(f"{where}: cannot read {folder / 'tokenizer.json'} ({_first_line(exc)}); "
                                       "expected a tokenizer.json saved by Hugging Face tokenizers") from None
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            return [len(ids) for ids in tokenizer(texts)["input_ids"]]
        except Exception as exc:
            files = ", ".join(Path(f).name for f in self.tokenizer_files)
            raise ModelConfigError(f"{where}: cannot load the tokenizer in {str(folder)!r} ({files}: "
                                   f"{_first_line(exc)}); expected files transformers can read") from None


@dataclass
class ModelSetting:
    name: str
    model: Model
    layer: int
    attention: dict  # as a toy setting's: scale, causal, softmax, heads (+ kv_heads with GQA)
    show_heads: list[int]
    detail_heads: list[int]

    def files(self) -> list[str]:
        return self.model.weight_files


def is_model_setting(setting) -> bool:
    return isinstance(setting, dict) and "model" in setting


def resolve_models(config: dict) -> dict[str, Model]:
    if config.get("models") and importlib.util.find_spec("transformers") is None:  # looked up, not imported
        raise ModelConfigError("models: running a model needs the hf extra (transformers); expected it installed: "
                               ".venv/bin/pip install -e '.[hf]' (./run.sh test installs it)")
    return {str(name): _read_model(str(name), entry["path"]) for name, entry in (config.get("models") or {}).items()}


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


def _read_model(name: str, path: str) -> Model:
    where = f"models.{name}.path"
    folder = Path(path)
    if not (folder / "config.json").is_file():
        what = "no such folder" if not folder.is_dir() else "no config.json in it"
        raise ModelConfigError(f"{where}: expected a local Hugging Face model folder with config.json, got "
                               f"{path!r} ({what})")
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelConfigError(f"{where}: cannot read {folder / 'config.json'}: {_first_line(exc)}") from None
    if not isinstance(cfg, dict):
        raise ModelConfigError(f"{where}: {folder / 'config.json'}: expected a JSON object of the model's settings, "
                               f"got {_json_kind(cfg)}")
    model_type = cfg.get("model_type")
    if not isinstance(model_type, str) or model_type not in FAMILIES:
        raise ModelConfigError(f"{where}: model_type {model_type!r} in config.json is not supported; expected one "
                               f"of: {SUPPORTED}")
    weights = sorted({str(p) for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern) if p.is_file()})
    if not weights:
        raise ModelConfigError(f"{where}: expected the model's weights (*.safetensors or *.bin) in {path!r}, "
                               "found none")
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise ModelConfigError(f"{where}: expected a tokenizer in the model folder ({', '.join(TOKENIZER_FILES)}), "
                               f"found none in {path!r}")
    tokenizer = [str(folder / f) for f in TOKENIZER_FILES + TOKENIZER_EXTRAS if (folder / f).is_file()]
    numel = sum(_safetensors_numel(Path(f), where) for f in weights if f.endswith(".safetensors"))
    settings = _Settings(cfg, f"{where}: {folder / 'config.json'}")
    model = Model(name=name, path=path, model_type=model_type, rope=FAMILIES[model_type] == "llama",
                  causal=FAMILIES[model_type] != "bert", weight_files=[str(folder / "config.json"), *weights],
                  tokenizer_files=tokenizer, weights_numel=numel, **_sizes(settings, model_type))
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
    names = {"layers": "num_hidden_layers", "heads": "num_attention_heads", "hidden": "hidden_size",
             "positions": "max_position_embeddings"}
    defaults = {"positions": DEFAULT_POSITIONS[model_type]}
    if model_type == "gpt2":  # GPT2Config's names and defaults
        names = {"layers": "n_layer", "heads": "n_head", "hidden": "n_embd", "positions": "n_positions"}
        defaults = {"layers": 12, "heads": 12, "hidden": 768, "positions": 1024}
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


def _safetensors_numel(path: Path, where: str) -> int:
    """Numbers in a .safetensors file, from its JSON header (8 bytes of length, then the header), which must
    describe the file: every tensor's bytes inside it, as many as its shape and dtype take. Nothing else read."""
    def malformed(what: str) -> ModelConfigError:
        return ModelConfigError(f"{where}: {path}: malformed .safetensors file ({what}); expected a whole file "
                                "saved by safetensors")

    size = path.stat().st_size
    with open(path, "rb") as fh:
        length = int.from_bytes(fh.read(8), "little")
        if size < 8 or not 0 < length <= min(MAX_HEADER_BYTES, size - 8):
            raise malformed(f"a header of {length:,} bytes in a file of {size:,}")
        try:
            header = json.loads(fh.read(length))
        except ValueError as exc:
            raise malformed(f"header: {_first_line(exc)}") from None
    if not isinstance(header, dict):
        raise malformed(f"header: expected a JSON object, got {_json_kind(header)}")
    numel, data = 0, size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            shape, (begin, end), width = entry["shape"], entry["data_offsets"], DTYPE_BYTES[entry["dtype"]]
            count = 1
            for dim in shape:
                if isinstance(dim, bool) or not isinstance(dim, int) or dim < 0:
                    raise ValueError(dim)
                count *= dim
            if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= data
                    and end - begin == count * width):
                raise ValueError(begin, end)
        except (KeyError, TypeError, ValueError):
            raise malformed(f"tensor {name[:60]!r}: its shape, dtype or data offsets do not fit the file") from None
        numel += count
    return numel


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _json_kind(value) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false",
            type(None): "null"}.get(type(value), type(value).__name__)
