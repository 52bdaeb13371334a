"""Load and check a sweep config before any job runs.

Three passes, each failing with a ConfigError whose message is one line naming the key and what was expected:
1. unknown keys (typos), with a suggestion taken from the JSON schema's own property names;
2. the JSON schema (structure, types);
3. the numbers: vector widths, matrix shapes against d_model, every token covered, heads dividing widths,
   weight files present and readable, no NaN or inf.
The result is a Sweep, which also hands each Snakemake rule exactly the config slice it depends on.
"""

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import numpy as np
import yaml

from . import matrices, tokens

RESERVED_NAMES = {"embeddings"}  # results/embeddings/ holds the per-prompt stage
ATTENTION_DEFAULTS = {"scale": "1/sqrt(d_head)", "causal": False, "softmax": True, "heads": 1}
PROJECTIONS = ("query", "key", "value")


class ConfigError(ValueError):
    """Bad input; str(err) is the one line to show."""


@dataclass
class Prompt:
    id: str
    text: str
    tokenizer: str
    tokens: list[str]


@dataclass
class WeightSetting:
    name: str
    projections: dict  # query/key/value -> matrix spec (`shared` expanded)
    biases: dict  # query/key/value -> vector spec, only those given
    attention: dict  # ATTENTION_DEFAULTS filled in

    def files(self) -> list[str]:
        specs = [*self.projections.values(), *self.biases.values()]
        return sorted({s["file"] for s in specs if isinstance(s, dict) and "file" in s})


@dataclass
class Sweep:
    d_model: int
    vocab: dict[str, list[float]]
    fallback: dict | None
    prompts: dict[str, Prompt] = field(default_factory=dict)
    weights: dict[str, WeightSetting] = field(default_factory=dict)

    # One dict per rule: Snakemake stores params as an unnamed list of reprs, so a single dict
    # keeps every value tied to its key (swapping two values is still a change).
    def embed_settings(self, prompt_id: str) -> dict:
        prompt = self.prompts[prompt_id]
        known = {t: self.vocab[t] for t in sorted(set(prompt.tokens)) if t in self.vocab}
        unknown = any(t not in self.vocab for t in prompt.tokens)
        return {
            "tokens": prompt.tokens,
            "vectors": known,
            "fallback": self.fallback if unknown else None,
        }

    def project_settings(self, weights: str) -> dict:
        setting = self.weights[weights]
        return {"projections": setting.projections, "biases": setting.biases}

    def attend_settings(self, weights: str) -> dict:
        return dict(self.weights[weights].attention)


def read_yaml(path) -> dict:
    """Parse a YAML config file; a syntax error becomes one line with file, line and column."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a YAML mapping of config keys, got {type(data).__name__}")
    return data


def load_schema(path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_sweep(config: dict, schema: dict) -> Sweep:
    """Check `config` against `schema` and the numbers; return the resolved Sweep."""
    _check_unknown_keys(config, schema, schema, "")
    _check_schema(config, schema)
    return _resolve(config)


# ---- pass 1: unknown keys -------------------------------------------------------------------


def _deref(node: dict, root: dict) -> dict:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _object_branches(node: dict, root: dict) -> list[dict]:
    node = _deref(node, root)
    if "oneOf" in node:
        return [b for branch in node["oneOf"] for b in _object_branches(branch, root)]
    return [node] if "properties" in node or node.get("type") == "object" else []


def _check_unknown_keys(value, node: dict, root: dict, path: str) -> None:
    if isinstance(value, dict):
        branches = _object_branches(node, root)
        if not branches:
            return
        # Of several object shapes ({random: ...} or {file: ...}) pick the one the keys point to.
        branch = next((b for b in branches if set(value) & set(b.get("properties", {}))), branches[0])
        known = branch.get("properties", {})
        allowed = sorted({k for b in branches for k in b.get("properties", {})})
        for key, item in value.items():
            if key in known:
                _check_unknown_keys(item, known[key], root, _join(path, key))
            elif isinstance(branch.get("additionalProperties"), dict):
                _check_unknown_keys(item, branch["additionalProperties"], root, _join(path, key))
            elif branch.get("additionalProperties") is False:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ConfigError(
                    f"{_join(path, key)}: unknown key; {hint}expected one of: {', '.join(allowed)}"
                )
    elif isinstance(value, list):
        node = _deref(node, root)
        for branch in [node, *[_deref(b, root) for b in node.get("oneOf", [])]]:
            if "items" in branch:
                for i, item in enumerate(value):
                    _check_unknown_keys(item, branch["items"], root, f"{path}[{i}]")
                return


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


# ---- pass 2: structure ----------------------------------------------------------------------


def _check_schema(config: dict, schema: dict) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    raise ConfigError(f"{path or 'config'}: {_describe(error)}")


def _describe(error) -> str:
    got = _short(error.instance)
    if isinstance(error.instance, int | float) and not isinstance(error.instance, bool) and "string" in str(error.schema):
        got += " (a number: quote text like '012' in YAML)"
    if error.validator == "type":
        return f"expected {_a(error.validator_value)}, got {got}"
    if error.validator in ("enum", "const"):
        options = error.validator_value if error.validator == "enum" else [error.validator_value]
        return f"expected one of {', '.join(map(repr, options))}, got {got}"
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return f"missing required key {', '.join(map(repr, missing))}"
    if error.validator == "oneOf":
        return f"expected {_expected(error.schema)}, got {got}"
    if error.validator in ("minimum", "exclusiveMinimum"):
        strict = ">" if error.validator == "exclusiveMinimum" else ">="
        return f"expected a number {strict} {error.validator_value}, got {got}"
    if error.validator in ("minItems", "minProperties", "minLength"):
        return f"expected a non-empty value, got {got}"
    return error.message


def _a(kind) -> str:
    names = {"number": "a number", "integer": "an integer", "string": "a string", "array": "a list",
             "object": "a mapping", "boolean": "true or false"}
    return " or ".join(names.get(k, k) for k in ([kind] if isinstance(kind, str) else kind))


def _expected(schema: dict) -> str:
    described = {
        "inline_matrix": "a list of rows of numbers", "inline_vector": "a list of numbers",
        "random": "{random: {seed: N}}", "file": "{file: path}",
    }
    parts = []
    for branch in schema["oneOf"]:
        if "$ref" in branch:
            parts.append(described.get(branch["$ref"].rsplit("/", 1)[-1], branch["$ref"]))
        elif "const" in branch:
            parts.append(repr(branch["const"]))
        elif "enum" in branch:
            parts.append(" or ".join(map(repr, branch["enum"])))
        elif "type" in branch:
            parts.append(_a(branch["type"]) + (" > 0" if "exclusiveMinimum" in branch else ""))
    return ", or ".join(parts)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---- pass 3: the numbers --------------------------------------------------------------------


def _resolve(config: dict) -> Sweep:
    vocab = {str(tok): [float(x) for x in vec] for tok, vec in config["vocab"].items()}
    fallback = config.get("unknown_tokens")
    d_model = _model_width(vocab, fallback)
    sweep = Sweep(d_model=d_model, vocab=vocab, fallback=fallback)
    default_tokenizer = config.get("tokenizer", "characters")
    first_seen: dict[str, int] = {}
    for i, entry in enumerate(config["prompts"]):
        prompt = _resolve_prompt(i, entry, default_tokenizer, vocab, fallback)
        if prompt.id in first_seen:
            raise ConfigError(
                f"prompts[{i}]: duplicate prompt id '{prompt.id}' (also prompts[{first_seen[prompt.id]}]); "
                "expected unique ids: give one an explicit `id:`"
            )
        first_seen[prompt.id] = i
        sweep.prompts[prompt.id] = prompt
    for name, setting in config["weights"].items():
        sweep.weights[name] = _resolve_weights(str(name), setting, d_model)
    return sweep


def _model_width(vocab: dict, fallback: dict | None) -> int:
    for tok, vec in vocab.items():
        if not all(math.isfinite(x) for x in vec):
            raise ConfigError(f"vocab.{tok}: expected finite numbers, found NaN or inf")
    widths = {len(v) for v in vocab.values()}
    if len(widths) > 1:
        tok = next(t for t, v in vocab.items() if len(v) != len(next(iter(vocab.values()))))
        raise ConfigError(
            f"vocab.{tok}: expected {len(next(iter(vocab.values())))} numbers like the first vector, got {len(vocab[tok])}"
        )
    if fallback and widths and fallback["dim"] not in widths:
        raise ConfigError(f"unknown_tokens.dim: expected {widths.pop()} (the vocab vector length), got {fallback['dim']}")
    if not widths and not fallback:
        raise ConfigError("vocab: expected at least one token vector (or an unknown_tokens: {seed, dim} entry)")
    return widths.pop() if widths else fallback["dim"]


def _resolve_prompt(i: int, entry, default_tokenizer: str, vocab: dict, fallback) -> Prompt:
    if isinstance(entry, str):
        entry = {"text": entry}
    text, mode = entry["text"], entry.get("tokenizer", default_tokenizer)
    where = f"prompts[{i}]"
    toks = tokens.tokenize(text, mode)
    if not toks:
        raise ConfigError(f"{where}: empty prompt {text!r}; expected at least one token ({mode} tokenizer)")
    if "id" in entry:
        pid = entry["id"]
        if not tokens.is_safe_id(pid):
            raise ConfigError(
                f"{where}.id: unsafe id {pid!r}; expected ASCII letters, digits, '_', '-', '.', "
                "starting with a letter or digit, no '/' and no '..'"
            )
    else:
        pid = tokens.derive_id(text)
    if fallback is None:
        for pos, tok in enumerate(toks):
            if tok not in vocab:
                raise ConfigError(
                    f"{where} ({text!r}): token {tok!r} at position {pos} is not in vocab; "
                    "expected a vocab token (or add unknown_tokens: {seed, dim} for random vectors)"
                )
    return Prompt(id=pid, text=text, tokenizer=mode, tokens=toks)


def _resolve_weights(name: str, setting: dict, d_model: int) -> WeightSetting:
    where = f"weights.{name}"
    if not tokens.is_safe_id(name) or name in RESERVED_NAMES:
        raise ConfigError(
            f"{where}: unsafe name; expected ASCII letters, digits, '_', '-', '.', starting with a letter or "
            f"digit, and not {', '.join(sorted(RESERVED_NAMES))}"
        )
    given = [p for p in PROJECTIONS if p in setting]
    if "shared" in setting and given:
        raise ConfigError(f"{where}: expected either `shared` or query/key/value, got both")
    if "shared" not in setting and len(given) < 3:
        missing = [p for p in PROJECTIONS if p not in setting]
        raise ConfigError(f"{where}: expected `shared` or all of query, key, value; missing {', '.join(missing)}")
    projections = {p: setting["shared"] if "shared" in setting else setting[p] for p in PROJECTIONS}
    bias_cfg = setting.get("bias", {})
    biases = {p: bias_cfg["shared"] if "shared" in bias_cfg else bias_cfg[p]
              for p in PROJECTIONS if "shared" in bias_cfg or p in bias_cfg}

    widths = {}
    for p in PROJECTIONS:
        key = f"{where}.{'shared' if 'shared' in setting else p}"
        m = _load(key, matrices.load_matrix, projections[p], d_model)
        if m.shape[0] != d_model:
            raise ConfigError(f"{key}: expected {d_model} rows (d_model, the vocab vector length), got shape {m.shape}")
        widths[p] = m.shape[1]
        if p in biases:
            bkey = f"{where}.bias.{'shared' if 'shared' in bias_cfg else p}"
            b = _load(bkey, matrices.load_vector, biases[p], widths[p])
            if b.shape[0] != widths[p]:
                raise ConfigError(f"{bkey}: expected {widths[p]} numbers (the {p} matrix's columns), got {b.shape[0]}")
    if widths["query"] != widths["key"]:
        raise ConfigError(
            f"{where}: expected query and key matrices with the same number of columns, "
            f"got {widths['query']} and {widths['key']}"
        )
    attention = {**ATTENTION_DEFAULTS, **setting.get("attention", {})}
    for p in ("query", "value"):
        if widths[p] % attention["heads"]:
            raise ConfigError(
                f"{where}.attention.heads: expected a divisor of the {p} width {widths[p]}, got {attention['heads']}"
            )
    return WeightSetting(name=name, projections=_floats(projections), biases=_floats(biases), attention=attention)


def _load(key: str, loader, spec, size: int) -> np.ndarray:
    try:
        return loader(spec, size)
    except matrices.SpecError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _floats(specs: dict) -> dict:
    """Inline numbers as floats, so `1` and `1.0` are the same setting for rerun purposes."""
    return {k: np.asarray(v, dtype=np.float64).tolist() if isinstance(v, list) else v for k, v in specs.items()}


