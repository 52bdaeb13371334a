"""Rule `render`: the stage files of one combination -> attention.mp4 and attention.png.

A job hands its render (render.job) to a forked child of the render server when one can be had
(render.server: Manim and the scene imported once per sweep, not once per job), else renders in its own
process. Either way Manim's global state is the render's alone, its output goes to the rule's log, and it
ends with its workflow (render.lifeline).
"""

import sys

from ..render import job, lifeline, server


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    # the workflow that started the job: a render whose Snakemake is gone stops, writing nothing (render.lifeline)
    workflow = lifeline.workflow()
    lifeline.hold(workflow)
    args = {"settings": settings, "inputs": inputs, "outputs": outputs, "log": log, "workflow": workflow}
    if server.enabled():
        code = server.submit(job.__name__, args)
        if code is not None:
            if code:
                sys.exit(job.failure(log) or f"attnpipe: the render failed (exit status {code}): see {log}")
            return
    job.job(**args)
