# Everything that is not a rule: the config, loaded and checked before any job runs, and the
# input/param functions the rules call. Bad input stops here with one line naming the key.
import gc
import importlib
import inspect
import os
import re
import signal
import sys
import traceback
from functools import cache

from snakemake.common import overwrite_function_params
from snakemake.exceptions import WorkflowError

from attnpipe import resources
from attnpipe.config.sweep import ConfigError, load_schema, load_sweep, read_yaml
from attnpipe.store.layout import (
    GALLERY,
    GALLERY_ASSETS,
    HEADS_CSV,
    STILL,
    SUMMARY_CSV,
    SUMMARY_HTML,
    VIDEO,
    combination_dir,
    embeddings_dir,
    hub_record,
    model_dir,
    stage_file,
    stage_files,
    weights_dir,
)
from attnpipe.models.identity import fingerprint as content_fingerprint
from attnpipe.models.spec import ModelSetting
from attnpipe.render.server import switch as render_server_switch
from attnpipe.numeric.tokens import SAFE_ID_PATTERN
from attnpipe.store.provenance import code_versions, stage_modules

# Snakemake's DAG of a big sweep is ~300,000 objects that live to the end; at Python's default threshold
# (a collection every 700 allocations) the cycle collector ran ~1,000 times over them: 1.0 of 8.7 CPU s of
# a 30 x 30 no-op (issue 11). Every 10,000 allocations still bounds cycles, and costs 0.4 s (most of it
# before this file runs).
gc.set_threshold(10_000, 10, 10)


def fail(message):
    # SystemExit prints just this line: no traceback, no job started, results/ untouched.
    sys.exit(f"attnpipe: config error: {message}")


CONFIG_FILE = "config/config.yaml"
CLI_CONFIG_FILES = [str(path) for path in workflow.overwrite_configfiles or []]


def config_files_read():
    """The files Snakemake builds the config from, as it does: config/config.yaml of the working folder (`-d`),
    then the --configfile files merged over it. Without it, or with --replace-workflow-config, the
    --configfile files alone."""
    replaced = workflow.config_settings.replace_workflow_config
    if CLI_CONFIG_FILES and (replaced or not os.path.exists(CONFIG_FILE)):
        return CLI_CONFIG_FILES
    return [CONFIG_FILE, *CLI_CONFIG_FILES]


# Read strictly before Snakemake takes them (it keeps the last of two equal keys, its message for bad YAML
# names neither file nor line, and it copies what YAML aliases share). Snakemake parses --configfile files
# before this file runs, so bad YAML there is its own.
for path in config_files_read():
    try:
        read_yaml(path)
    except ConfigError as err:
        fail(err)


configfile: CONFIG_FILE


try:
    SWEEP = load_sweep(config, load_schema(workflow.source_path("../schemas/config.schema.yaml")))
except ConfigError as err:
    fail(err)
try:  # read by every render job: a value it cannot be stops here, not in a job
    render_server_switch()
except ValueError as err:
    fail(err)

PROMPTS = list(SWEEP.prompts)
WEIGHTS = list(SWEEP.weights)
# Real models (workflow/rules/models.smk): a model's layer settings read plain-text prompts only, so the
# sweep is the grid of SWEEP.combinations(), not every prompt x every setting.
MODELS = list(SWEEP.models)
MODEL_SETTINGS = {name: s for name, s in SWEEP.weights.items() if isinstance(s, ModelSetting)}
TOY_WEIGHTS = [name for name in WEIGHTS if name not in MODEL_SETTINGS]
ROTARY_SETTINGS = [name for name, s in MODEL_SETTINGS.items() if s.model.rope]
HUB_MODELS = [name for name, model in SWEEP.models.items() if model.hub is not None]
COMBINATIONS = SWEEP.combinations()


def one_of(names):
    """A wildcard constraint matching exactly these names; with none, nothing (an empty pattern is no constraint)."""
    return "|".join(map(re.escape, names)) or "(?!)"


# Every name is a path component the config check allowed (attnpipe.numeric.tokens.SAFE_ID): the constraints
# say so, and only the rules that share an output pattern list their settings (weights vs model_weights,
# embed vs layer_input, forward vs forward_rotary). Listing every prompt here made each match of a path
# scan an alternation of all of them: quadratic in a big sweep (issue 24).
wildcard_constraints:
    prompt=SAFE_ID_PATTERN,
    weights=SAFE_ID_PATTERN,
    model=SAFE_ID_PATTERN,


# A stage's code version covers its module and every attnpipe module it imports (each module of
# attnpipe.stages has one: a new stage needs no entry here). Kept in .snakemake/ with the files' times and
# sizes, so a run that changed no library file does not parse the library again.
CODE = {
    name.rsplit(".", 1)[1]: version
    for name, version in code_versions(
        [f"attnpipe.stages.{stage}" for stage in stage_modules()], ".snakemake/attnpipe/code-versions.json"
    ).items()
}

# The rules' path patterns (attnpipe.store.layout: the one place for stage names, tensor names and paths).
PROMPT_EMBEDDINGS = embeddings_dir("{prompt}")
SETTING = weights_dir("{weights}")
COMBINATION = combination_dir("{weights}", "{prompt}")
MODEL_PROMPT = model_dir("{model}", "{prompt}")


WILDCARD_NAMES = {"weights": "weight setting", "prompt": "prompt", "model": "model"}


def run_stage(stage, input, output, params, log, wildcards=None):
    """The body of every numeric rule: hand plain paths and the settings to attnpipe.stages.<stage>.
    A stage that computed NaN/inf stops with one line naming the combination (the stage knows no names), one
    that read a damaged stage file or model weight file with one line naming the file; any other failure leaves
    its traceback in the job's log, where Snakemake points (a `run:` job's exception reaches only the terminal)."""
    from attnpipe.models.weightfiles import WeightFileError  # torch-free
    from attnpipe.store.torchfile import TorchFileError  # torch-free

    stage_module = importlib.import_module(f"attnpipe.stages.{stage}")
    settings = params.get("settings", {})
    try:
        stage_module.run(settings, dict(input.items()), dict(output.items()), log[0])
    except Exception as err:
        # stagefiles imports torch: only once a stage failed (so the summary and gallery jobs never do)
        from attnpipe.store.stagefiles import StageError, write_log

        if not isinstance(err, (StageError, TorchFileError, WeightFileError)):
            write_log(log[0], traceback.format_exc())
            raise
        names = "".join(f"{WILDCARD_NAMES[k]} {v!r}, " for k, v in (wildcards or {}).items())
        kind = "numeric error" if isinstance(err, StageError) else "input error"
        message = f"attnpipe: {kind}: {names}{err}"
        write_log(log[0], message)
        raise WorkflowError(message) from None


def let_one_interrupt_go(signum=None, frame=None):
    """From the end of the run on (onsuccess, onerror): every job is done and recorded, and what is left is
    Snakemake removing its lock and its threads ending. A Ctrl-C there printed a KeyboardInterrupt traceback (or
    "Exception ignored in ... threading.py _shutdown") and could leave the lock behind: the first is let go; a
    second one ends the process at once."""
    signal.signal(signal.SIGINT, signal.SIG_DFL if signum else let_one_interrupt_go)


# What one job asks a cluster for: attnpipe.resources (measured figures, with headroom).
NUMERIC_RESOURCES = resources.NUMERIC


@cache  # asked twice for every model job (mem_mb, runtime): read the weights' headers once per model
def model_resources(model):
    found = SWEEP.models[model]
    return resources.model_request(found.layer_float32_mb(), found.float32_mb())


def model_of(wildcards):
    # a forward job names its model; a model_weights job, the layer setting that names it
    if hasattr(wildcards, "model"):
        return wildcards.model
    return MODEL_SETTINGS[wildcards.weights].model.name


def get_model_mem_mb(wildcards):
    return model_resources(model_of(wildcards))["mem_mb"]


def get_model_runtime(wildcards):
    return model_resources(model_of(wildcards))["runtime"]


def model_weights_mb(weights):
    """A model layer's weights.pt in MB (a toy setting's: 0, within the jobs' base)."""
    setting = MODEL_SETTINGS.get(weights)
    return setting.model.attention_weights_mb() if setting else 0.0


def get_project_mem_mb(wildcards):
    return resources.weights_reader_request(model_weights_mb(wildcards.weights))["mem_mb"]


def get_project_runtime(wildcards):
    return resources.weights_reader_request(model_weights_mb(wildcards.weights))["runtime"]


def render_resources(weights, prompt):
    tokens = len(SWEEP.prompts[prompt].tokens)
    detail = len(SWEEP.weights[weights].detail_heads)
    return resources.render_request(
        tokens, detail, weights in ROTARY_SETTINGS, SWEEP.render["preset"], model_weights_mb(weights)
    )


def get_render_mem_mb(wildcards):
    return render_resources(wildcards.weights, wildcards.prompt)["mem_mb"]


def get_render_runtime(wildcards):
    return render_resources(wildcards.weights, wildcards.prompt)["runtime"]


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


# The rules over the whole sweep (all, numeric, summary, gallery) take their inputs from functions (the
# `wildcards` argument is Snakemake's, unused), not from lists given at load: Snakemake then builds a
# rule's thousands of file objects only when the rule is in the DAG, and once. A `snakemake numeric`
# no-op on a 30 x 30 sweep built ~23,000 of them at load for nothing (issue 11, no-op speed).
def get_combination_files(name):
    """results/<weights>/<prompt>/<name> for every combination, weight settings outermost."""
    return [f"{combination_dir(weights, prompt)}/{name}" for weights, prompt in COMBINATIONS]


def get_videos(wildcards=None):
    return get_combination_files(VIDEO)


def get_stills(wildcards=None):
    return get_combination_files(STILL)


def get_attend_files(wildcards=None):
    """Every combination's attend.pt, in the order of get_combination_files."""
    return [stage_file(combination_dir(weights, prompt), "attend") for weights, prompt in COMBINATIONS]


def get_combination_embed_files(wildcards=None):
    """Every combination's embed.pt, in the order of get_combination_files (a prompt's X repeats)."""
    return [get_embed_file(weights, prompt) for weights, prompt in COMBINATIONS]


def get_embed_file(weights, prompt):
    """A toy combination's X is its prompt's (results/embeddings/), a model's its layer's input."""
    if weights in MODEL_SETTINGS:
        return stage_file(combination_dir(weights, prompt), "embed")
    return stage_file(embeddings_dir(prompt), "embed")


def get_numeric_outputs(wildcards=None):
    # Every stage file (attnpipe.store.layout.STAGES): a job reruns when any file the sweep promises is missing.
    return SWEEP.stage_outputs() + [SUMMARY_CSV, HEADS_CSV]


def get_final_outputs(wildcards=None):
    return get_numeric_outputs() + get_videos() + get_stills() + [GALLERY]


# Real models: each rule's settings name the model folder and what it reads from it; the folder's files
# are the inputs (editing the weights reruns that model's forward and weights jobs and what follows).
def get_forward_settings(wildcards):
    return SWEEP.forward_settings(wildcards.model, wildcards.prompt)


def model_inputs(model):
    """A folder's files; a hub model's fetch record (its files are the cache's, at the commit in the params)."""
    return [hub_record(model.name)] if model.hub is not None else model.files()


def get_model_files(wildcards):
    return model_inputs(SWEEP.models[wildcards.model])


# A hub model (attnpipe.models.hub): the config check resolved its revision and put its small files in the
# cache's snapshot folder of that commit; the fetch job brings the weights. Its input is that folder (a folder
# is judged by its time, a file by its checksum): a cache that lost the model gets the folder back at config
# load, newer than the fetch record, so the weights are fetched again.
def get_fetch_inputs(wildcards):
    return [SWEEP.models[wildcards.model].hub.folder]


def get_fetch_settings(wildcards):
    source = SWEEP.models[wildcards.model].hub
    files = source.small_files + source.weights
    return {"repo": source.repo, "commit": source.commit, "files": files}


def get_fetch_runtime(wildcards):
    return resources.fetch_request(SWEEP.models[wildcards.model].float32_mb())["runtime"]


# A param, of the wildcards only (Snakemake does not compare params derived from `input`): Snakemake reruns a job
# by its inputs' times, and weights swapped for others with an older time (cp -p) are new all the same.
def get_model_content(wildcards):
    return files_content(tuple(get_model_files(wildcards)))


def get_model_weight_content(wildcards):
    return files_content(tuple(get_model_weight_files(wildcards)))


@cache  # the model's files, for every job that reads them: each hashed once and remembered (models.identity)
def files_content(paths):
    return content_fingerprint(list(paths))


def get_model_forward(wildcards):
    model = MODEL_SETTINGS[wildcards.weights].model.name
    return stage_file(model_dir(model, wildcards.prompt), "forward")


def get_layer_settings(wildcards):
    return SWEEP.layer_settings(wildcards.weights)


def get_model_weight_settings(wildcards):
    return SWEEP.model_weight_settings(wildcards.weights)


def get_model_weight_files(wildcards):
    setting = MODEL_SETTINGS[wildcards.weights]
    return model_inputs(setting.model) if setting.model.hub is not None else setting.files()


def get_project_embed(wildcards):
    return get_embed_file(wildcards.weights, wildcards.prompt)


def get_render_rotary_inputs(wildcards):
    """A rotary setting's video also shows the rotation: its rotated Q/K and the model's cos and sin."""
    if wildcards.weights not in ROTARY_SETTINGS:
        return {}
    return {
        "rotate": stage_file(combination_dir(wildcards.weights, wildcards.prompt), "rotate"),
        "forward": get_model_forward(wildcards),
    }


def get_attend_inputs(wildcards):
    folder = combination_dir(wildcards.weights, wildcards.prompt)
    inputs = {"project": stage_file(folder, "project")}
    if wildcards.weights in ROTARY_SETTINGS:
        inputs["rotate"] = stage_file(folder, "rotate")
    return inputs


# Snakemake reads each input, params and resources function's signature (inspect.signature) again for every
# job: ~6,600 times in a 30 x 30 no-op. Read once here, at load; it is what Snakemake would read.
for _function in [f for name, f in list(globals().items()) if name.startswith("get_") and inspect.isfunction(f)]:
    overwrite_function_params(_function, inspect.signature(_function).parameters)
