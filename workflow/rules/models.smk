# Real models named under `models:` (local Hugging Face folders, or hub repositories fetched into the
# cache). One forward pass per (model, prompt), shared by every layer setting of that model; then per (layer
# setting, prompt) the layer's attention input becomes the combination's own X (embed.pt), and project/attend
# run as for a toy setting. Rotary models (Llama family) add `rotate` between project and attend. Input
# functions: common.smk.
# Runs in threads like the numeric rules: attnpipe.models.hf loads each model once per process. On a cluster
# (profiles/slurm) layer_input and rotate jobs travel with their combination's project and attend jobs,
# model_weights jobs with the sweep's other inputs; forward jobs go alone.

# A hub model's files come into the Hugging Face cache first (attnpipe.models.hub): on the host Snakemake runs
# on (localrules in the Snakefile: a cluster's nodes may have no network); its record is the model jobs' input.


rule fetch_model:
    input:
        get_fetch_inputs,
    output:
        record=hub_record("{model}"),
    params:
        settings=get_fetch_settings,
        code=CODE["fetch_model"],
    log:
        "logs/fetch_model/{model}.log",
    wildcard_constraints:
        model=one_of(HUB_MODELS),
    threads: 1
    resources:
        mem_mb=resources.fetch_request(0)["mem_mb"],
        runtime=get_fetch_runtime,
    run:
        run_stage("fetch_model", input, output, params, log, wildcards)


rule forward:
    input:
        get_model_files,
    output:
        **stage_files(MODEL_PROMPT, "forward"),
    params:
        settings=get_forward_settings,
        content=get_model_content,  # what the folder's files hold (their times may not say)
        code=CODE["forward"],
    log:
        "logs/forward/{model}/{prompt}.log",
    wildcard_constraints:
        model=one_of([m for m in MODELS if not SWEEP.models[m].rope]),
    threads: 1
    resources:
        mem_mb=get_model_mem_mb,  # from the weights' size (common.smk)
        runtime=get_model_runtime,
    run:
        run_stage("forward", input, output, params, log, wildcards)


# The same stage for a rotary model: it also writes the cos and sin its attention layers receive.
use rule forward as forward_rotary with:
    output:
        **stage_files(MODEL_PROMPT, "forward", features=["rotary"]),
    wildcard_constraints:
        model=one_of([m for m in MODELS if SWEEP.models[m].rope]),


rule layer_input:
    input:
        forward=get_model_forward,
    output:
        **stage_files(COMBINATION, "embed"),
    params:
        settings=get_layer_settings,
        code=CODE["layer_input"],
    log:
        "logs/layer_input/{weights}/{prompt}.log",
    wildcard_constraints:
        weights=one_of(MODEL_SETTINGS),
    threads: 1
    resources:
        **NUMERIC_RESOURCES,
    run:
        run_stage("layer_input", input, output, params, log, wildcards)


rule model_weights:
    input:
        get_model_weight_files,
    output:
        **stage_files(SETTING, "weights"),
    params:
        settings=get_model_weight_settings,
        content=get_model_weight_content,
        code=CODE["model_weights"],
    log:
        "logs/weights/{weights}.log",
    wildcard_constraints:
        weights=one_of(MODEL_SETTINGS),
    threads: 1
    resources:
        mem_mb=get_model_mem_mb,  # from the weights' size (common.smk)
        runtime=get_model_runtime,
    run:
        run_stage("model_weights", input, output, params, log, wildcards)


rule rotate:
    input:
        project=stage_file(COMBINATION, "project"),
        forward=get_model_forward,
    output:
        **stage_files(COMBINATION, "rotate"),
    params:
        code=CODE["rotate"],
    log:
        "logs/rotate/{weights}/{prompt}.log",
    wildcard_constraints:
        weights=one_of(ROTARY_SETTINGS),
    threads: 1
    resources:
        **NUMERIC_RESOURCES,
    run:
        run_stage("rotate", input, output, params, log, wildcards)
