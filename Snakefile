# attnpipe: prompts x weight settings -> embeddings, Q/K/V, attention (a .pt and CSVs per stage),
# then a Manim video per combination showing exactly those numbers.
# Read top to bottom, this is the pipeline in order. Configure in config/config.yaml.
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/numeric.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/summary.smk"


report: "workflow/report/workflow.rst"


# Targets that only collect files, and the hub fetch (it needs the network): never sent to a cluster.
localrules:
    all,
    numeric,
    fetch_model,


rule all:
    default_target: True
    input:
        get_final_outputs,


# `snakemake numeric`: every stage file, no videos.
rule numeric:
    input:
        get_numeric_outputs,


# After the last job, a Ctrl-C only ends what is already done (common.smk).
onsuccess:
    let_one_interrupt_go()


onerror:
    let_one_interrupt_go()
