# Everything that is not a rule: the config, loaded and checked before any job runs, and the
# input/param functions the rules call. Bad input stops here with one line naming the key.
import importlib
import re
import sys

from attnpipe.config import ConfigError, load_schema, load_sweep, read_yaml
from attnpipe.provenance import code_version


def fail(message):
    # SystemExit prints just this line: no traceback, no job started, results/ untouched.
    sys.exit(f"attnpipe: config error: {message}")


CONFIG_FILE = "config/config.yaml"
if not workflow.overwrite_configfiles:
    try:
        read_yaml(CONFIG_FILE)  # Snakemake's own message for bad YAML names neither file nor line
    except ConfigError as err:
        fail(err)


configfile: CONFIG_FILE


try:
    SWEEP = load_sweep(config, load_schema(workflow.source_path("../schemas/config.schema.yaml")))
except ConfigError as err:
    fail(err)

PROMPTS = list(SWEEP.prompts)
WEIGHTS = list(SWEEP.weights)


wildcard_constraints:
    prompt="|".join(map(re.escape, PROMPTS)),
    weights="|".join(map(re.escape, WEIGHTS)),


# A stage's code version covers its module and every attnpipe module it imports.
CODE = {
    stage: code_version(f"attnpipe.stages.{stage}")
    for stage in ("embed", "weights", "project", "attend", "render", "summary", "gallery")
}

# Each stage writes <stage>.pt (all its tensors) and one CSV per tensor.
STAGE_CSVS = {
    "embed": ["hidden_states"],
    "weights": [f"{kind}_{role}" for role in ("query", "key", "value") for kind in ("w", "b")],
    "project": ["queries", "keys", "values"],
    "attend": ["scores", "scaled_scores", "attention", "output"],
}


def stage_files(directory, stage):
    """Named outputs of a stage: tensors=<dir>/<stage>.pt and <name>_csv=<dir>/<name>.csv."""
    csvs = {f"{name}_csv": f"{directory}/{name}.csv" for name in STAGE_CSVS[stage]}
    return {"tensors": f"{directory}/{stage}.pt", **csvs}


def run_stage(stage, input, output, params, log):
    """The body of every numeric rule: hand plain paths and the settings to attnpipe.stages.<stage>."""
    stage_module = importlib.import_module(f"attnpipe.stages.{stage}")
    settings = params.get("settings", {})
    stage_module.run(settings, dict(input.items()), dict(output.items()), log[0])


# What one job needs on a cluster node, measured with benchmarks/resources.py (one job forced in a fresh
# Snakemake process, as a SLURM job runs it; peak RSS of the process tree, CPU seconds; on a loaded 2-core
# machine): a numeric job 441-447 MB and 5-6 CPU s (nearly all of it importing Snakemake and torch).
# Declared with headroom for the SLURM job's own Snakemake process (~200 MB) and slower nodes. runtime is
# in minutes.
NUMERIC_RESOURCES = {"mem_mb": 600, "runtime": 1}

# A render's memory and time grow with what it sets as text: numbers in grids (up to 12 x 12 per matrix;
# larger matrices are heatmaps), for each head it walks through. Measured (benchmarks/resources.py, cold
# glyph cache, 2-core machine at load 9-15, 2026-11-29):
#   small (8 tokens, 2 heads, d 3)        preview: ~690 MB, 12-35 CPU s (warm-cold cache)
#   minilm (10 tokens, 12 heads, d 384)   preview: 1062 MB, 182 CPU s (before: 2.1 GB, 255 CPU s)
# Declared: a base plus a share per shown head x grid cell, with headroom; runtime 3x the CPU seconds.
RENDER_BASE = {"preview": {"mem_mb": 800, "cpu_s": 30}, "publish": {"mem_mb": 1300, "cpu_s": 80}}
RENDER_PER_HEAD_CELL = {"mem_mb": 0.8, "cpu_s": 0.2}  # per shown head x grid cell (tokens, up to 12, squared)


def render_resources(weights, prompt, preset):
    """mem_mb and runtime (minutes) of one render job, from the combination's size: tokens, shown heads
    and width (a wide X or Q is a heatmap: its cost does not grow with the width)."""
    tokens = len(SWEEP.prompts[prompt].tokens)
    heads = len(SWEEP.weights[weights].show_heads)
    cells = heads * min(tokens, 12) ** 2
    base = RENDER_BASE[preset]
    mem_mb = base["mem_mb"] + RENDER_PER_HEAD_CELL["mem_mb"] * cells
    cpu_s = base["cpu_s"] + RENDER_PER_HEAD_CELL["cpu_s"] * cells
    return {"mem_mb": int(round(mem_mb, -2)), "runtime": max(2, int(3 * cpu_s / 60) + 1)}  # 3x: slow nodes


def get_render_mem_mb(wildcards):
    return render_resources(wildcards.weights, wildcards.prompt, SWEEP.render["preset"])["mem_mb"]


def get_render_runtime(wildcards):
    return render_resources(wildcards.weights, wildcards.prompt, SWEEP.render["preset"])["runtime"]


def get_embed_settings(wildcards):
    return SWEEP.embed_settings(wildcards.prompt)


def get_prompt_files(wildcards):
    return SWEEP.prompts[wildcards.prompt].files()


def get_weight_settings(wildcards):
    return SWEEP.weight_settings(wildcards.weights)


def get_weight_files(wildcards):
    return SWEEP.weights[wildcards.weights].files()


def get_attend_settings(wildcards):
    return SWEEP.attend_settings(wildcards.weights)


def get_render_settings(wildcards):
    return SWEEP.render_settings(wildcards.weights, wildcards.prompt)


def get_summary_settings():
    # What the table shows besides stage-file numbers: prompt texts and attention options.
    return {
        "prompts": {pid: prompt.text for pid, prompt in SWEEP.prompts.items()},
        "weights": {name: SWEEP.attend_settings(name) for name in WEIGHTS},
    }


def get_gallery_settings():
    # The heatmaps' numbers and colours follow the videos' render options.
    return {key: SWEEP.render[key] for key in ("precision", "scheme")}


def get_combination_files(name):
    """results/<weights>/<prompt>/<name> for every combination, weight settings outermost."""
    return [f"results/{weights}/{prompt}/{name}" for weights in WEIGHTS for prompt in PROMPTS]


def get_numeric_outputs():
    # Every stage file: a job reruns when any file the sweep promises is missing.
    files = [
        path
        for prompt in PROMPTS
        for path in stage_files(f"results/embeddings/{prompt}", "embed").values()
    ]
    for weights in WEIGHTS:
        files += stage_files(f"results/{weights}", "weights").values()
        for prompt in PROMPTS:
            for stage in ("project", "attend"):
                files += stage_files(f"results/{weights}/{prompt}", stage).values()
    return files + ["results/summary.csv"]


def get_final_outputs():
    videos = [
        f"results/{weights}/{prompt}/attention.{ext}"
        for weights in WEIGHTS
        for prompt in PROMPTS
        for ext in ("mp4", "png")
    ]
    return get_numeric_outputs() + videos + ["results/index.html"]
