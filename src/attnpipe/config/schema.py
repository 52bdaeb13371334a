"""Structure checks of a config against its JSON schema, with one-line messages a person can act on.

Three passes: unknown keys first (a typo gets a suggestion from the schema's own property names), then
numbers made canonical where the schema expects one, then the schema itself via jsonschema, its best
error reworded as "<key path>: expected ..., got ...".
"""

import difflib
import math
import re
import reprlib

import jsonschema

from ..errors import ConfigError
from ..limits import MAX_MAGNITUDE
from .configfile import key_path

# What a person writes as a number: YAML 1.1 reads `1e-2` and `1e0` (no dot, or no sign in the exponent) as
# strings; where the schema expects a number such a string is one. nan/inf spelled out stay strings.
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class StructureError(ConfigError):
    """str(err) is one line: the key path and what was expected."""


def check_structure(config: dict, schema: dict) -> dict:
    """The config with its numbers canonical (see canonical_numbers), once its structure is right."""
    _check_unknown_keys(config, schema, schema, "")
    config = canonical_numbers(config, schema, schema, "")
    _check_schema(config, schema)
    return config


def _branches(node: dict, root: dict) -> list[dict]:
    node = _deref(node, root)
    return [node, *[b for branch in node.get("oneOf", []) for b in _branches(branch, root)]]


def canonical_numbers(value, node: dict, root: dict, path: str):
    """A copy of `value` in which every number the schema expects is canonical: float where it expects a
    number (so `2` and `2.0` are the same param for Snakemake), int where an integer (`3.0` -> 3), a string
    like `1e-2` a number; and finite, within ±MAX_MAGNITUDE. Anything else is left for the schema check."""
    if isinstance(value, dict):
        branches = _object_branches(node, root)
        branch = next((b for b in branches if set(value) & set(b.get("properties", {}))), None)
        if branch is None and branches:
            branch = branches[0]
        known = branch.get("properties", {}) if branch else {}
        extra = branch.get("additionalProperties") if branch else None
        return {
            key: canonical_numbers(item, known.get(key, extra), root, key_path(path, key))
            if key in known or isinstance(extra, dict) else item
            for key, item in value.items()
        }
    branches = _branches(node, root)
    if isinstance(value, list):
        items = next((b["items"] for b in branches if "items" in b), None)
        if items is None:
            return value
        return [canonical_numbers(item, items, root, f"{path}[{i}]") for i, item in enumerate(value)]
    types = {t for b in branches for t in ([b["type"]] if isinstance(b.get("type"), str) else b.get("type", []))}
    if isinstance(value, bool) or not types & {"number", "integer"}:
        return value
    if isinstance(value, str):
        named = {v for b in branches for v in b.get("enum", [])} | {b["const"] for b in branches if "const" in b}
        if value in named or not NUMBER.fullmatch(value.strip()):
            return value
        value = float(value)
    if not isinstance(value, int | float):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise StructureError(f"{path}: expected a finite number, got {value}")
    if abs(value) > MAX_MAGNITUDE:
        raise StructureError(f"{path}: expected a number within ±{MAX_MAGNITUDE:g}, got {_short(value)}")
    if "number" in types:
        return float(value)
    return int(value) if float(value).is_integer() else value


def defaults(schema: dict, *path: str) -> dict:
    """The `default` of each property of the object at `path` in the schema: property names, "*" for an
    object's additionalProperties (defaults(schema, "weights", "*", "attention"): every setting's attention)."""
    node = schema
    for key in path:
        node = _deref(node, schema)
        node = node["additionalProperties"] if key == "*" else node["properties"][key]
    return {name: prop["default"] for name, prop in _deref(node, schema)["properties"].items() if "default" in prop}


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
                _check_unknown_keys(item, known[key], root, key_path(path, key))
            elif isinstance(branch.get("additionalProperties"), dict):
                _check_unknown_keys(item, branch["additionalProperties"], root, key_path(path, key))
            elif branch.get("additionalProperties") is False:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise StructureError(
                    f"{key_path(path, key)}: unknown key; {hint}expected one of: {', '.join(allowed)}"
                )
    elif isinstance(value, list):
        node = _deref(node, root)
        for branch in [node, *[_deref(b, root) for b in node.get("oneOf", [])]]:
            if "items" in branch:
                for i, item in enumerate(value):
                    _check_unknown_keys(item, branch["items"], root, f"{path}[{i}]")
                return


def _check_schema(config: dict, schema: dict) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    raise StructureError(f"{path or 'config'}: {_describe(error)}")


def _describe(error) -> str:
    got = _short(error.instance)
    if (isinstance(error.instance, int | float) and not isinstance(error.instance, bool)
            and "string" in str(error.schema)):
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
    if error.validator == "maximum":
        return f"expected a number <= {error.validator_value}, got {got}"
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
    """repr(value) cut to 60 characters, without building the repr of a big value (it may share parts
    that expand to billions of items)."""
    return shown(value, 60)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 3, 8, 8
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 60


def shown(value, width: int = 60) -> str:
    """A bounded repr for messages: at most `width` characters whatever the size of `value`."""
    text = _REPR.repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
