# Thin adapter: Snakemake's `render` job -> attnpipe.stages.render (a process of its own for Manim).
from attnpipe.stages import render

render.run(
    snakemake.params.settings,  # noqa: F821 (injected by Snakemake)
    dict(snakemake.input.items()),  # noqa: F821
    dict(snakemake.output.items()),  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
