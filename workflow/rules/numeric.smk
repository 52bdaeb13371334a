# The numeric stages. Each rule is one call into attnpipe.stages; they are `run:` rules (executed in
# threads via profiles/default) because a `script:` job is a fresh process that spends ~2.7 s
# importing torch and pandas, several times the work itself.
# On a cluster these tiny jobs travel in groups, set in profiles/slurm (`groups:`, `group-components:`), not
# here: Snakemake checks groups while planning even where it ignores them, at a cost growing with the square
# of a group's size (a 2,000-prompt sweep planned for over 17 minutes). Resources: common.smk.


rule embed:
    input:
        get_prompt_files,
    output:
        **stage_files(PROMPT_EMBEDDINGS, "embed"),
    params:
        settings=get_embed_settings,
        code=CODE["embed"],
    log:
        "logs/embed/{prompt}.log",
    threads: 1
    resources:
        **NUMERIC_RESOURCES,
    run:
        run_stage("embed", input, output, params, log, wildcards)


rule weights:
    input:
        get_weight_files,
    output:
        **stage_files(SETTING, "weights"),
    params:
        settings=get_weight_settings,
        code=CODE["weights"],
    log:
        "logs/weights/{weights}.log",
    wildcard_constraints:
        weights=one_of(TOY_WEIGHTS),  # a model's layer: rule model_weights
    threads: 1
    resources:
        **NUMERIC_RESOURCES,
    run:
        run_stage("weights", input, output, params, log, wildcards)


rule project:
    input:
        embed=get_project_embed,
        weights=stage_file(SETTING, "weights"),
    output:
        **stage_files(COMBINATION, "project"),
    params:
        code=CODE["project"],
    log:
        "logs/project/{weights}/{prompt}.log",
    threads: 1
    resources:
        mem_mb=get_project_mem_mb,  # a model layer's weights.pt read whole (common.smk)
        runtime=get_project_runtime,
    run:
        run_stage("project", input, output, params, log, wildcards)


rule attend:
    input:
        unpack(get_attend_inputs),  # project.pt, and rotate.pt for a rotary model
    output:
        **stage_files(COMBINATION, "attend"),
    params:
        settings=get_attend_settings,
        code=CODE["attend"],
    log:
        "logs/attend/{weights}/{prompt}.log",
    threads: 1
    resources:
        **NUMERIC_RESOURCES,
    run:
        run_stage("attend", input, output, params, log, wildcards)
