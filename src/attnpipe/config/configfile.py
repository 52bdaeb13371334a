"""Read a YAML config file strictly: UTF-8 only, no duplicate keys, a bounded size with aliases expanded.

PyYAML takes a repeated key silently (the last one wins) and shares an aliased node instead of copying
it, so a few hundred bytes of nested anchors stand for billions of values: anything that walks the
loaded config (a schema check, repr() in a message) then runs for minutes. Both are checked on the
composed node tree, where an alias is the same node object: one visit per node, nothing expanded.
"""

import sys

import yaml

from ..errors import ConfigError
from ..limits import MAX_CONFIG_VALUES


class ConfigFileError(ConfigError):
    """str(err) is one line naming the file and what is wrong."""


def read_yaml(path) -> dict:
    """Parse a YAML config file; every failure is one line naming the file (and line, where there is one)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigFileError(
            f"{path}: expected UTF-8 text, got byte 0x{raw[exc.start]:02x} at line {line}"
        ) from None
    try:
        data = _load(text, path, FAST_LOADER)
    except (yaml.YAMLError, UnicodeError):
        try:  # the pure-Python parser says what is wrong more fully (e.g. which character)
            data = _load(text, path, yaml.SafeLoader)
        except yaml.reader.ReaderError as exc:  # a control character: YAML allows only printable ones
            line = text[: exc.position].count("\n") + 1
            raise ConfigFileError(
                f"{path}: malformed YAML at line {line}: unacceptable character #x{exc.character:04x}"
            ) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "syntax error"
            raise ConfigFileError(f"{path}: malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: expected a YAML mapping of config keys, got {type(data).__name__}")
    return data


# libyaml's parser (PyYAML's C binding, same resolver and constructor) reads a 30 x 30 sweep's config in a
# quarter of the pure-Python parser's time, at every Snakemake start (issue 11, no-op speed). Its messages
# are terser, so a file it refuses is parsed again by the pure-Python one for the message.
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(text: str, path, loader_class):
    """The document in `text`, checked node by node (_check_nodes) before it is built."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, path)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_nodes(root: yaml.Node, path) -> None:
    """Refuse duplicate keys and a document over MAX_CONFIG_VALUES values once aliases are expanded."""
    sizes: dict[int, int] = {}  # id(node) -> its expanded size, so a shared node is counted once

    def size(node: yaml.Node, where: str) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a node that contains itself (a recursive alias) stops here
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if name is not None and name != "<<":
                    _check_key_reads_as_written(key, path, where)
                    if name in seen:
                        raise ConfigFileError(
                            f"{path}: {key_path(where, name)}: duplicate key (lines {seen[name]} and "
                            f"{key.start_mark.line + 1}); expected each key once"
                        )
                    seen[name] = key.start_mark.line + 1
                total += size(value, key_path(where, name if name is not None else "?"))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                total += size(item, f"{where}[{i}]")
        if total > MAX_CONFIG_VALUES:
            raise ConfigFileError(
                f"{path}: {where or 'config'}: expected at most {MAX_CONFIG_VALUES:,} values with YAML aliases "
                "expanded (put big arrays in files), got more"
            )
        sizes[id(node)] = total
        return total

    size(root, "")


def _check_key_reads_as_written(key: yaml.ScalarNode, path, where: str) -> None:
    """A mapping key must read as the text written. YAML 1.1 reads a plain `010` as 8, `yes` as True, `null` as
    None, `1.0` as a float equal to `1` and `True`; the config's keys (vocab tokens, setting names) would then be
    another text, or one key silently replacing another. Plain text and plain integers written as Python writes
    them (`0`, `12`) read as written; anything else must be quoted."""
    if key.style not in (None, "") or key.tag == "tag:yaml.org,2002:str":  # quoted, or plain text
        return
    value = yaml.safe_load(key.value)
    if type(value) is not int or str(value) != key.value:
        raise ConfigFileError(
            f"{path}: {key_path(where, key.value)}: YAML reads this key as {_kind(value)}, not as the text "
            f"{key.value!r} (line {key.start_mark.line + 1}); expected it quoted: \"{key.value}\""
        )


def _kind(value) -> str:
    if value is None:
        return "null"
    kind = {bool: "the boolean", int: "the integer", float: "the number"}.get(type(value), "the date")
    return f"{kind} {value}"


def key_path(path: str, key) -> str:
    """The dotted config key of `key` under `path` ("weights.seed"), as every one-line error names it."""
    return f"{path}.{key}" if path else str(key)


def count_values(value, limit: int = MAX_CONFIG_VALUES) -> int | None:
    """The number of values in a loaded config with shared parts counted every time they appear, or None once
    it passes `limit` (without walking further). A loaded config shares aliased lists and dicts."""
    sizes: dict[int, int] = {}

    def size(item) -> int:
        if not isinstance(item, dict | list):
            return 1
        if id(item) in sizes:
            return sizes[id(item)]
        sizes[id(item)] = 1
        children = item.values() if isinstance(item, dict) else item
        total = 1
        for child in children:
            total += size(child)
            if total > limit:
                raise OverflowError
        sizes[id(item)] = total
        return total

    try:
        return size(value)
    except OverflowError:
        return None


def configfiles_in(args: list[str]) -> list[str]:
    """The files named by --configfile/--configfiles in Snakemake arguments (each takes one or more)."""
    files, taking = [], False
    for arg in args:
        flag, _, value = arg.partition("=")
        if flag in ("--configfile", "--configfiles"):
            taking = not value
            files += [value] if value else []
        elif arg.startswith("-"):
            taking = False
        elif taking:
            files.append(arg)
    return files


def main(argv: list[str]) -> int:
    """`python -m attnpipe.config.configfile [snakemake args]`: check the --configfile files as the workflow does.
    Snakemake parses them before the workflow runs, with a message that names neither file nor line
    (or a traceback, for a byte that is not UTF-8); run.sh calls this first."""
    for path in configfiles_in(argv):
        try:
            read_yaml(path)
        except ConfigFileError as err:
            print(f"attnpipe: config error: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
