"""What makes a rule's params compare stably. Snakemake reruns a job when the repr of its params changes, so
the same setting must always have the same repr, and the repr must be safe where Snakemake shows it:

- numbers: canonical where the schema expects one (`2` and `2.0`, `1e-2` written as text), made so while the
  config is checked against its schema (attnpipe.config.schema.canonical_numbers, which knows where numbers go);
- mappings: keys sorted (canonical), so `{dim: 3, seed: 0}` and `{seed: 0, dim: 3}` are one setting;
- text: ScriptSafeSettings, whose repr holds no "<" (the report shows params inside a <script> element).
"""


def canonical(value):
    """`value` with every mapping's keys sorted: Snakemake compares params by repr, so `{dim: 3, seed: 0}`
    and `{seed: 0, dim: 3}` must be the same param."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


class ScriptSafeSettings(dict):
    """A rule's settings whose repr holds no "<". Snakemake's report shows the params of the jobs behind its
    items as their repr, inside a <script> element and unescaped: a prompt text holding "</script>" would end
    that element there and what follows would run. Written \\x3c, "<" is still Python's syntax for the same
    text, so the params Snakemake compares for reruns change exactly when the settings do."""

    def __repr__(self):
        return dict.__repr__(self).replace("<", "\\x3c")

    __str__ = __repr__
