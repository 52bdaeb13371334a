"""Load and check a sweep config before any job runs.

Each failure is a ConfigError whose message is one line naming the key and what was expected.
attnpipe.config.schema checks the structure (unknown keys, types); this module checks the numbers: vector
widths, matrix shapes against d_model, every token covered, heads dividing widths, weight files
present and readable, no NaN or inf. The result is a Sweep, which also hands each Snakemake rule
exactly the config slice it depends on.

d_model, the hidden-state width, is the vocab vector length when a prompt looks tokens up, else the
width of the first prompt that brings its own hidden states; every prompt and every weight setting
must fit it (the sweep is a full grid).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import yaml

from ..errors import ConfigError
from ..limits import MAX_CONFIG_VALUES, MAX_HEADS, MAX_ID, MAX_TEXT, MAX_TOKENS, MAX_VALUES, MAX_WIDTH
from ..look.heads import chosen_heads
from ..models import spec as model_spec
from ..numeric import embedding, matrices, tokens
from ..store import layout
from ..store.provenance import model_version
from . import configfile
from .params import ScriptSafeSettings, canonical
from .schema import check_structure, defaults, shown

# results/embeddings/ holds the per-prompt stage, results/models/ the forward passes; the others are files
RESERVED_NAMES = {layout.EMBEDDINGS, layout.MODELS,
                  *(name.rsplit("/", 1)[1] for name in (layout.SUMMARY_CSV, layout.SUMMARY_HTML, layout.HEADS_CSV,
                                                        layout.GALLERY))}
PROJECTIONS = layout.ROLES
# results/<weights>/ holds the weights stage's files beside one folder per prompt: a prompt id may not be one
RESERVED_PROMPT_IDS = {path.rsplit("/", 1)[1] for path in layout.stage_files("", "weights").values()}


@dataclass
class Prompt:
    id: str
    text: str
    tokenizer: str
    tokens: list[str]
    hidden_states: object = None  # inline rows or {file: path}; None: look the tokens up in the vocab
    width: int | None = None  # of the hidden states a prompt brings
    model_text: str | None = None  # plain text (no tokens:, no hidden_states:): what a model setting reads
    toy: bool = True  # the vocab (or its own hidden states) gives it X: it pairs with the toy settings

    def files(self) -> list[str]:
        return [self.hidden_states["file"]] if isinstance(self.hidden_states, dict) else []


@dataclass
class WeightSetting:
    name: str
    projections: dict  # query/key/value -> matrix spec (`shared` expanded)
    biases: dict  # query/key/value -> vector spec, only those given
    attention: dict  # the schema's defaults filled in
    show_heads: list[int]  # the heads its videos show
    detail_heads: list[int]  # those walked through step by step
    features = ("any", "toy")  # which stage files it needs (attnpipe.store.layout.STAGES)

    def files(self) -> list[str]:
        specs = [*self.projections.values(), *self.biases.values()]
        return sorted({s["file"] for s in specs if isinstance(s, dict) and "file" in s})


@dataclass
class Sweep:
    d_model: int
    vocab: dict[str, list[float]]
    fallback: dict | None
    render: dict  # the schema's defaults filled in
    prompts: dict[str, Prompt] = field(default_factory=dict)
    weights: dict[str, WeightSetting] = field(default_factory=dict)  # and model_spec.ModelSetting
    models: dict = field(default_factory=dict)  # name -> model_spec.Model

    def pairs(self, weights: str, prompt_id: str) -> bool:
        """A model's setting reads plain-text prompts; a toy setting the prompts the vocab (or a file) embeds."""
        prompt = self.prompts[prompt_id]
        if isinstance(self.weights[weights], model_spec.ModelSetting):
            return prompt.model_text is not None
        return prompt.toy

    def combinations(self) -> list[tuple[str, str]]:
        """(weights, prompt) of every combination the sweep computes, weight settings outermost."""
        return [(w, p) for w in self.weights for p in self.prompts if self.pairs(w, p)]

    # One dict per rule: Snakemake stores params as an unnamed list of reprs, so a single dict
    # keeps every value tied to its key (swapping two values is still a change).
    def embed_settings(self, prompt_id: str) -> dict:
        prompt = self.prompts[prompt_id]
        if prompt.hidden_states is not None:  # the file's contents reach the rule as an input, not a param
            return {"tokens": prompt.tokens, "hidden_states": prompt.hidden_states}
        known = {t: self.vocab[t] for t in sorted(set(prompt.tokens)) if t in self.vocab}
        unknown = any(t not in self.vocab for t in prompt.tokens)
        return {
            "tokens": prompt.tokens,
            "vectors": known,
            "fallback": self.fallback if unknown else None,
        }

    def weight_settings(self, weights: str) -> dict:
        setting = self.weights[weights]
        return {"d_model": self.d_model, "projections": setting.projections, "biases": setting.biases}

    def attend_settings(self, weights: str) -> dict:
        return dict(self.weights[weights].attention)

    # real models: what each rule reads from the model folder (its files are the rule's inputs)
    def forward_settings(self, model_name: str, prompt_id: str) -> dict:
        """The layers: those the sweep asks of this model (the forward stops at the deepest and keeps only
        these, so asking for another layer reruns it)."""
        model = self.models[model_name]
        layers = sorted({s.layer for s in self.weights.values()
                         if isinstance(s, model_spec.ModelSetting) and s.model.name == model_name})
        return {"path": model.path, "family": model.family, "text": self.prompts[prompt_id].model_text,
                "layers": layers, **model_version(model)}

    def layer_settings(self, weights: str) -> dict:
        return {"layer": self.weights[weights].layer}

    def model_weight_settings(self, weights: str) -> dict:
        setting, model = self.weights[weights], self.weights[weights].model
        return {"path": model.path, "family": model.family, "layer": setting.layer, "heads": model.heads,
                "kv_heads": model.kv_heads, "head_dim": model.head_dim, "detail_heads": setting.detail_heads,
                **model_version(model)}

    def stage_outputs(self) -> list[str]:
        """Every stage file the sweep promises (the .pt and its CSVs), from the stage registry: each stage for
        the combinations whose setting has the feature it needs, each file once."""
        files: dict[str, None] = {}
        for weights, prompt in self.combinations():
            setting = self.weights[weights]
            model = setting.model.name if isinstance(setting, model_spec.ModelSetting) else None
            for stage in layout.STAGES:
                if stage.needs in setting.features:
                    folder = layout.stage_folder(stage.folder, weights, prompt, model)
                    files.update(dict.fromkeys(layout.stage_files(folder, stage.name, setting.features).values()))
        return list(files)

    def model_layer(self, weights: str) -> dict:
        """The model and layer a model's setting reads; {} for a toy setting."""
        setting = self.weights[weights]
        if not isinstance(setting, model_spec.ModelSetting):
            return {}
        return {"model": setting.model.name, "layer": setting.layer}

    def summary_settings(self) -> "ScriptSafeSettings":
        """What the tables show besides stage-file numbers: their rows, prompt texts and attention options
        (the report shows them: ScriptSafeSettings)."""
        return ScriptSafeSettings({
            "combinations": [list(pair) for pair in self.combinations()],
            "prompts": {pid: prompt.text for pid, prompt in self.prompts.items()},
            "weights": {name: self.attend_settings(name) for name in self.weights},
            "models": {name: self.model_layer(name) for name in self.weights if self.model_layer(name)},
        })

    def gallery_settings(self) -> dict:
        """The maps' numbers and colours follow the videos' render options and heads shown (softmax: how the
        still colours them); combinations: whose attend.pt is which; a model's layers: its model views' rows."""
        return {
            "combinations": [list(pair) for pair in self.combinations()],
            **{key: self.render[key] for key in ("precision", "scheme")},
            "weights": {
                name: {"softmax": setting.attention["softmax"], "show_heads": setting.show_heads,
                       **self.model_layer(name)}
                for name, setting in self.weights.items()
            },
            "models": {name: {"layers": model.layers} for name, model in self.models.items()},
        }

    def render_settings(self, weights: str, prompt_id: str) -> dict:
        """The render options plus what the video names and explains: prompt text, attention options,
        the heads to show, and where X came from (the vocab, with the tokens it lacked, or a file)."""
        prompt = self.prompts[prompt_id]
        setting = self.weights[weights]
        if isinstance(setting, model_spec.ModelSetting):
            source, unknown = f"model {setting.model.name}: the input of attention layer {setting.layer}", []
        elif prompt.hidden_states is None:
            source, unknown = "vocab", sorted({t for t in prompt.tokens if t not in self.vocab})
        else:
            source, unknown = prompt.files()[0] if prompt.files() else "the config", []
        return ScriptSafeSettings({
            **self.render,
            "prompt": prompt_id,
            "text": prompt.text,
            "weights": weights,
            "attention": self.attend_settings(weights),
            "show_heads": self.weights[weights].show_heads,
            "detail_heads": self.weights[weights].detail_heads,
            "hidden_states_from": source,
            "unknown_tokens": unknown,
        })


def read_yaml(path) -> dict:
    """Parse a YAML config file strictly (attnpipe.config.configfile: UTF-8, no duplicate keys, bounded size); any
    failure is one line with the file (and line, where there is one)."""
    return configfile.read_yaml(path)


def load_schema(path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=configfile.FAST_LOADER)  # our own file: libyaml's speed, not its messages


def load_sweep(config: dict, schema: dict) -> Sweep:
    """Check `config` against `schema` and the numbers; return the resolved Sweep."""
    # Before anything walks it: a loaded config shares aliased parts, and may stand for billions of values.
    if configfile.count_values(config) is None:
        raise ConfigError(
            f"config: expected at most {MAX_CONFIG_VALUES:,} values with YAML aliases expanded "
            "(put big arrays in files), got more"
        )
    return _resolve(check_structure(config, schema), schema)


def _resolve(config: dict, schema: dict) -> Sweep:
    vocab = {str(tok): [float(x) for x in vec] for tok, vec in config.get("vocab", {}).items()}
    fallback = canonical(config.get("unknown_tokens"))
    vocab_width = _vocab_width(vocab, fallback)
    default_tokenizer = config.get("tokenizer", defaults(schema)["tokenizer"])
    for name in config.get("models") or {}:  # results/models/<name>/: a path component, like a setting's name
        _check_name(f"models.{name}", str(name), "name", set())
    models = model_spec.resolve_models(config)
    toy_weights = {n: s for n, s in config["weights"].items() if not model_spec.is_model_setting(s)}
    # Beside a model, a text prompt the vocab does not cover is the model's alone (no error).
    prompts = [_resolve_prompt(i, entry, default_tokenizer, vocab, fallback, model_only_ok=bool(models))
               for i, entry in enumerate(config["prompts"])]
    toy_prompts = [p for p in prompts if p.toy]
    d_model, source = _model_width(toy_prompts, vocab_width) if toy_weights else (None, None)
    if toy_weights and d_model is None:
        raise ConfigError(f"weights.{next(iter(toy_weights))}: expected prompts it can embed (covered by vocab, "
                          "or with hidden_states); every prompt here is a model's alone")
    sweep = Sweep(d_model=d_model, vocab=vocab, fallback=fallback,
                  render={**defaults(schema, "render"), **config.get("render", {})}, models=models)
    first_seen: dict[str, int] = {}
    for i, prompt in enumerate(prompts):
        if prompt.id in first_seen:
            raise ConfigError(
                f"prompts[{i}]: duplicate prompt id '{prompt.id}' (also prompts[{first_seen[prompt.id]}]); "
                "expected unique ids: give one an explicit `id:`"
            )
        first_seen[prompt.id] = i
        sweep.prompts[prompt.id] = prompt
    longest = max((len(p.tokens) for p in toy_prompts), default=0)  # what the toy settings read
    for name, setting in config["weights"].items():
        if not model_spec.is_model_setting(setting):
            sweep.weights[name] = _resolve_weights(str(name), setting, d_model, source, longest,
                                                   defaults(schema, "weights", "*", "attention"))
            continue
        for one in model_spec.expand_setting(str(name), setting, models):
            _check_setting_name(f"weights.{name}", one.name)
            if one.name in sweep.weights or one.name in config["weights"] and one.name != name:
                raise ConfigError(f"weights.{name}: expands to {one.name!r}, a name already taken; expected "
                                  "unique weight-setting names")
            sweep.weights[one.name] = one
    deepest: dict[str, int] = {}  # model -> the deepest layer a setting reads: what its folder must hold
    for setting in sweep.weights.values():
        if isinstance(setting, model_spec.ModelSetting):
            deepest[setting.model.name] = max(setting.layer, deepest.get(setting.model.name, 0))
    for name, layer in deepest.items():
        model_spec.check_tensors(models[name], layer)
    _check_model_tokens(sweep, prompts)
    return sweep


def _check_model_tokens(sweep: Sweep, prompts: list[Prompt]) -> None:
    """Every text a model reads fits its position embeddings (and MAX_TOKENS), counted with its own tokenizer:
    the forward job would fail on it, or make a prompt too long to show."""
    texts = {i: p.model_text for i, p in enumerate(prompts) if p.model_text is not None}
    used = {s.model.name: s.model for s in sweep.weights.values() if isinstance(s, model_spec.ModelSetting)}
    for model in used.values():
        limit, why = min((model.positions, "its position embeddings"), (MAX_TOKENS, "attnpipe's limit"))
        counts = model.count_tokens(list(texts.values()), limit)
        for (i, text), count in zip(texts.items(), counts):
            if count > limit:
                raise ConfigError(
                    f"prompts[{i}] ({shown(text)}): expected at most {limit:,} tokens for model {model.name} "
                    f"({why}), got {count:,} (model {model.name}'s tokenizer)"
                )
            _check_model_attention_size(model, i, text, count)


def _check_model_attention_size(model, i: int, text: str, tokens: int) -> None:
    """A model layer's attention tensor, heads x tokens x tokens, within MAX_VALUES, as a toy setting's: what the
    attend job's declared memory holds (resources.NUMERIC; benchmarks/model_limits.py: MiniLM's 12 heads x 296
    x 296 peaked at 523 MB, 12 x 512 x 512 at 628 MB, over the 600 declared)."""
    if model.heads * tokens * tokens > MAX_VALUES:
        most = math.isqrt(MAX_VALUES // model.heads)
        raise ConfigError(
            f"prompts[{i}] ({shown(text)}): expected heads x tokens x tokens of at most {MAX_VALUES:,} numbers per "
            f"attention tensor (what a job's declared memory holds), got {model.heads} x {tokens} x {tokens} for "
            f"model {model.name}: at most {most} tokens with its {model.heads} heads"
        )


def _vocab_width(vocab: dict, fallback: dict | None) -> int | None:
    """The vocab vector length (checked: equal lengths, finite), or None without vocab and unknown_tokens."""
    for tok, vec in vocab.items():
        if not all(math.isfinite(x) for x in vec):
            raise ConfigError(f"vocab.{tok}: expected finite numbers, found NaN or inf")
    widths = {len(v) for v in vocab.values()}
    if len(widths) > 1:
        first = len(next(iter(vocab.values())))
        tok = next(t for t, v in vocab.items() if len(v) != first)
        raise ConfigError(f"vocab.{tok}: expected {first} numbers like the first vector, got {len(vocab[tok])}")
    if fallback and widths and fallback["dim"] not in widths:
        raise ConfigError(
            f"unknown_tokens.dim: expected {widths.pop()} (the vocab vector length), got {fallback['dim']}"
        )
    width = widths.pop() if widths else fallback["dim"] if fallback else None
    if width is not None and width > MAX_WIDTH:
        key = "vocab" if vocab else "unknown_tokens.dim"
        raise ConfigError(f"{key}: expected vectors of at most {MAX_WIDTH} numbers (d_model), got {width}")
    return width


def _model_width(prompts: list[Prompt], vocab_width: int | None) -> tuple[int, str]:
    """d_model and where it comes from (for messages); every prompt's hidden states must have that width."""
    d_model, source = None, None
    if any(p.hidden_states is None for p in prompts):
        if vocab_width is None:
            raise ConfigError("vocab: expected at least one token vector (or an unknown_tokens: {seed, dim} entry)")
        d_model, source = vocab_width, "d_model, the vocab vector length"
    for i, prompt in enumerate(prompts):
        if prompt.hidden_states is None:
            continue
        width, what = prompt.width, _hidden_what(prompt.hidden_states)
        if d_model is None:
            d_model, source = width, f"d_model, the width of prompts[{i}].hidden_states"
        elif width != d_model:
            raise ConfigError(
                f"prompts[{i}].hidden_states: expected {d_model} columns ({source}), got {width} in {what}"
            )
    return d_model, source


def _hidden_what(spec) -> str:
    return f"file {spec['file']}" if isinstance(spec, dict) else "the inline rows"


def _resolve_prompt(i: int, entry, default_tokenizer: str, vocab: dict, fallback,
                    model_only_ok: bool = False) -> Prompt:
    if isinstance(entry, str):
        entry = {"text": entry}
    where = f"prompts[{i}]"
    if not {"text", "tokens", "hidden_states"} & set(entry):
        raise ConfigError(f"{where}: expected `text`, `tokens` or `hidden_states`, got none of them")
    mode = entry.get("tokenizer", default_tokenizer)
    if "hidden_states" in entry:
        toks, width = _hidden_state_tokens(where, entry, mode)
    else:
        toks = list(entry["tokens"]) if "tokens" in entry else tokens.tokenize(entry["text"], mode)
        width = None
    text = entry["text"] if "text" in entry else " ".join(toks)
    if len(text) > MAX_TEXT:
        raise ConfigError(f"{where}.text: expected at most {MAX_TEXT:,} characters, got {len(text):,}")
    if "id" in entry:
        pid = entry["id"]
        _check_name(f"{where}.id", pid, "id", RESERVED_PROMPT_IDS)
    else:
        pid = tokens.derive_id(text, MAX_ID)
    plain_text = entry["text"] if not {"tokens", "hidden_states"} & set(entry) else None
    if fallback is None and "hidden_states" not in entry:
        for pos, tok in enumerate(toks):
            if tok not in vocab:
                if model_only_ok and plain_text is not None:  # the toy tokenizer's limits do not apply to it
                    return Prompt(id=pid, text=text, tokenizer=mode, tokens=toks, model_text=plain_text, toy=False)
                raise ConfigError(
                    f"{where} ({shown(text)}): token {shown(tok)} at position {pos} is not in vocab; "
                    "expected a vocab token (or add unknown_tokens: {seed, dim} for random vectors)"
                )
    if not toks:
        raise ConfigError(f"{where}: empty prompt {shown(text)}; expected at least one token ({mode} tokenizer)")
    if len(toks) > MAX_TOKENS:
        raise ConfigError(f"{where}: expected at most {MAX_TOKENS} tokens, got {len(toks)} ({mode} tokenizer)")
    return Prompt(id=pid, text=text, tokenizer=mode, tokens=toks,
                  hidden_states=canonical(entry.get("hidden_states")), width=width,
                  model_text=plain_text)


def _hidden_state_tokens(where: str, entry: dict, mode: str) -> tuple[list[str], int]:
    """A prompt's own hidden states: checked rows, and one token label per row.

    The labels are `tokens:` if given, else the file's own (CSV label column, .pt record row_labels,
    .safetensors metadata "tokens"), else the tokenized `text`; given both, config and file must agree.
    """
    spec = entry["hidden_states"]
    key, what = f"{where}.hidden_states", _hidden_what(spec)
    try:
        found = embedding.load_hidden_states(spec)
    except matrices.SpecError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    rows, width = found.values.shape
    from_file = tokens.strip_positions(found.row_labels) if found.row_labels is not None else None
    if from_file is not None and len(from_file) != rows:
        raise ConfigError(f"{key}: {what} has {rows} rows but {len(from_file)} row labels")
    if "tokens" in entry:
        toks, origin = [str(t) for t in entry["tokens"]], f"{where}.tokens"
        if from_file is not None and from_file != toks:
            pos = next((p for p, (a, b) in enumerate(zip(toks, from_file)) if a != b), min(len(toks), len(from_file)))
            raise ConfigError(
                f"{origin}: expected the row labels of {what} (they differ at position {pos}: "
                f"{_at(toks, pos)} in the config, {_at(from_file, pos)} in the file)"
            )
    elif from_file is not None:
        toks, origin = from_file, None
    elif "text" in entry:
        toks, origin = tokens.tokenize(entry["text"], mode), f"{where}.text ({mode} tokenizer)"
    else:
        raise ConfigError(
            f"{key}: {what} carries no token labels; expected `tokens: [...]` (or `text:`) beside it, or a file "
            "with labels (.csv label column, .pt record row_labels, .safetensors metadata 'tokens')"
        )
    if origin and len(toks) != rows:
        raise ConfigError(f"{origin}: expected {rows} tokens (one per row of {what}), got {len(toks)}")
    return toks, width


def _at(items: list, pos: int) -> str:
    return shown(items[pos]) if pos < len(items) else "nothing"


def _check_name(key: str, name: str, what: str, reserved: set[str]) -> None:
    """A prompt id or weight-setting name: a path component and a Snakemake wildcard value."""
    if not tokens.is_safe_id(name):
        raise ConfigError(
            f"{key}: unsafe {what} {shown(name)}; expected ASCII letters, digits, '_', '-', '.', "
            "starting with a letter or digit, no '/' and no '..'"
        )
    if len(name) > MAX_ID:
        raise ConfigError(f"{key}: expected {_a(what)} of at most {MAX_ID} characters, got {len(name)}")
    if name in reserved:
        raise ConfigError(
            f"{key}: unsafe {what} {name!r} (a file in results/); expected not {', '.join(sorted(reserved))}"
        )
    if tokens.is_periodic(name):
        raise ConfigError(
            f"{key}: {what} {name!r} ends in 20 or more repeats of one piece, which Snakemake refuses "
            "(it takes it for a runaway rule); expected another"
        )


def _a(what: str) -> str:
    return f"an {what}" if what[0] in "aeiou" else f"a {what}"


def _resolve_weights(name: str, setting: dict, d_model: int, source: str, longest: int,
                     attention_defaults: dict) -> WeightSetting:
    where = f"weights.{name}"
    _check_setting_name(where, name)
    given = [p for p in PROJECTIONS if p in setting]
    if "shared" in setting and given:
        raise ConfigError(f"{where}: expected either `shared` or query/key/value, got both")
    if "shared" not in setting and len(given) < 3:
        missing = [p for p in PROJECTIONS if p not in setting]
        raise ConfigError(f"{where}: expected `shared` or all of query, key, value; missing {', '.join(missing)}")
    projections = {p: canonical(setting["shared"] if "shared" in setting else setting[p]) for p in PROJECTIONS}
    bias_cfg = setting.get("bias", {})
    biases = {p: canonical(bias_cfg["shared"] if "shared" in bias_cfg else bias_cfg[p])
              for p in PROJECTIONS if "shared" in bias_cfg or p in bias_cfg}

    widths = {}
    for p in PROJECTIONS:
        key = f"{where}.{'shared' if 'shared' in setting else p}"
        m = _load(key, matrices.load_matrix, projections[p], d_model)
        if m.shape[0] != d_model:
            raise ConfigError(
                f"{key}: expected {d_model} rows ({source}), got shape {m.shape}{_in_file(projections[p])}"
            )
        widths[p] = m.shape[1]
        if p in biases:
            bkey = f"{where}.bias.{'shared' if 'shared' in bias_cfg else p}"
            b = _load(bkey, matrices.load_vector, biases[p], widths[p])
            if b.shape[0] != widths[p]:
                raise ConfigError(
                    f"{bkey}: expected {widths[p]} numbers (the {p} matrix's columns), "
                    f"got {b.shape[0]}{_in_file(biases[p])}"
                )
    if widths["query"] != widths["key"]:
        raise ConfigError(
            f"{where}: expected query and key matrices with the same number of columns, "
            f"got {widths['query']} and {widths['key']}"
        )
    attention = {**attention_defaults, **setting.get("attention", {})}
    heads = attention["heads"]
    if heads > MAX_HEADS:
        raise ConfigError(f"{where}.attention.heads: expected at most {MAX_HEADS}, got {heads}")
    if heads * longest * longest > MAX_VALUES:
        raise ConfigError(
            f"{where}.attention.heads: expected heads x tokens x tokens of at most {MAX_VALUES:,} numbers per "
            f"attention tensor, got {heads} x {longest} x {longest} (the longest prompt)"
        )
    for p in ("query", "value"):
        if widths[p] % attention["heads"]:
            raise ConfigError(
                f"{where}.attention.heads: expected a divisor of the {p} width {widths[p]}, got {attention['heads']}"
            )
    show_heads, detail_heads = chosen_heads(setting.get("render", {}), attention["heads"], where, ConfigError)
    return WeightSetting(name=name, projections=projections, biases=biases, attention=attention,
                         show_heads=show_heads, detail_heads=detail_heads)


def _check_setting_name(where: str, name: str) -> None:
    _check_name(where, name, "name", RESERVED_NAMES)


def _load(key: str, loader, spec, size: int) -> np.ndarray:
    try:
        return loader(spec, size)
    except matrices.SpecError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _in_file(spec) -> str:
    return f" in file {spec['file']}" if isinstance(spec, dict) and "file" in spec else ""

