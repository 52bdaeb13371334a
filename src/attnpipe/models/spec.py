"""`models:` and the weight settings that name one, checked at config load from each folder's config.json.

No torch and no transformers here: Snakemake parses the config on every run, and importing them costs
seconds. A setting {model, layer: L} is one weight setting; {model, layers: all | [..]} expands, in
place, to one setting per layer named <name>-layer<L>.
"""

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..render.heads import chosen_heads

# config.json model_type -> architecture family (how the attention input and weights are found)
FAMILIES = {"bert": "bert", "gpt2": "gpt2", "llama": "llama", "mistral": "llama", "qwen2": "llama"}
SUPPORTED = "bert (BERT family, e.g. MiniLM), gpt2, llama, mistral, qwen2"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model")
TOKENIZER_EXTRAS = ("tokenizer_config.json", "special_tokens_map.json", "merges.txt", "added_tokens.json")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
SETTING_KEYS = {"model", "layer", "layers", "render"}


class ModelConfigError(ValueError):
    """str(err) is the one line to show (attnpipe.config turns it into a ConfigError)."""


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
    scales: dict = field(default_factory=dict)  # layer -> scale where not 1/sqrt(d_head) (GPT-2 options)
    windows: dict = field(default_factory=dict)  # layer -> its sliding window (Mistral; Qwen2 where enabled)

    @property
    def family(self) -> str:
        return FAMILIES[self.model_type]

    def files(self) -> list[str]:
        """Everything a forward pass reads: editing any of them reruns this model's work, nothing else."""
        return self.weight_files + self.tokenizer_files

    def float32_mb(self) -> float:
        """The weights' size once loaded in float32, as the model jobs load them: from each .safetensors
        file's header (shapes, no weights read), else twice a file's size (as if stored in 16 bits)."""
        total = 0
        for name in self.weight_files:
            path = Path(name)
            if path.suffix == ".safetensors":
                total += 4 * _safetensors_numel(path)
            elif path.suffix == ".bin":
                total += 2 * path.stat().st_size
        return total / 2**20


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
        raise ModelConfigError(f"{where}: cannot read {folder / 'config.json'}: {exc}") from None
    model_type = cfg.get("model_type")
    if model_type not in FAMILIES:
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
    model = Model(name=name, path=path, model_type=model_type, rope=FAMILIES[model_type] == "llama",
                  causal=FAMILIES[model_type] != "bert", weight_files=[str(folder / "config.json"), *weights],
                  tokenizer_files=tokenizer, **_sizes(cfg, model_type))
    model.windows = _sliding_windows(cfg, model_type, model.layers)
    if model_type == "gpt2":  # GPT-2's optional scalings, as GPT2Attention applies them
        if not cfg.get("scale_attn_weights", True):
            model.scales = {layer: "none" for layer in range(model.layers)}
        elif cfg.get("scale_attn_by_inverse_layer_idx", False):
            model.scales = {layer: model.head_dim ** -0.5 / (layer + 1) for layer in range(model.layers)}
    return model


def _sliding_windows(cfg: dict, model_type: str, layers: int) -> dict[int, int]:
    """layer -> sliding window, as transformers applies them: Mistral's on every layer; Qwen2's only with
    use_sliding_window, on the layers its layer_types name (else those from max_window_layers on)."""
    window = cfg.get("sliding_window")
    if not window or model_type not in ("mistral", "qwen2"):
        return {}
    if model_type == "mistral":
        return dict.fromkeys(range(layers), int(window))
    if not cfg.get("use_sliding_window"):
        return {}
    types = cfg.get("layer_types") or ["sliding_attention" if layer >= cfg.get("max_window_layers", 28)
                                       else "full_attention" for layer in range(layers)]
    return {layer: int(window) for layer, kind in enumerate(types) if kind == "sliding_attention"}


def _sizes(cfg: dict, model_type: str) -> dict:
    if model_type == "gpt2":
        layers, heads, hidden = cfg.get("n_layer", 12), cfg.get("n_head", 12), cfg.get("n_embd", 768)
    else:
        layers, heads, hidden = cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["hidden_size"]
    kv_heads = cfg.get("num_key_value_heads") or heads
    head_dim = cfg.get("head_dim") or hidden // heads
    return {"layers": layers, "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim}


def _safetensors_numel(path: Path) -> int:
    """Numbers in a .safetensors file, from its JSON header (8 bytes of length, then the header)."""
    with open(path, "rb") as fh:
        length = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(length)) if 0 < length <= 100_000_000 else {}
    numel = 0
    for name, entry in header.items():
        if name != "__metadata__":
            count = 1
            for dim in entry.get("shape", []):
                count *= int(dim)
            numel += count
    return numel
