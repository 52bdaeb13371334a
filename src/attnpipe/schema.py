"""Structure checks of a config against its JSON schema, with one-line messages a person can act on.

Two passes: unknown keys first (a typo gets a suggestion from the schema's own property names), then
the schema itself via jsonschema, its best error reworded as "<key path>: expected ..., got ...".
"""

import difflib

import jsonschema


class StructureError(ValueError):
    """str(err) is one line: the key path and what was expected."""


def check_structure(config: dict, schema: dict) -> None:
    _check_unknown_keys(config, schema, schema, "")
    _check_schema(config, schema)


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
                raise StructureError(
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


def _check_schema(config: dict, schema: dict) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    raise StructureError(f"{path or 'config'}: {_describe(error)}")


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
