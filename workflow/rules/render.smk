# The video per combination, from the stage files only. A `script:` rule: each render is a process
# of its own with its own Manim media folder, so parallel renders never share state. On a cluster each
# render is a job of its own: renders are the long part of a sweep.


rule render:
    input:
        unpack(get_render_rotary_inputs),  # rotary models: rotate.pt and the model's forward.pt
        embed=get_project_embed,
        weights=stage_file(SETTING, "weights"),
        project=stage_file(COMBINATION, "project"),
        attend=stage_file(COMBINATION, "attend"),
    output:
        video=f"{COMBINATION}/{VIDEO}",
        still=report(
            f"{COMBINATION}/{STILL}",
            caption="../report/still.rst",
            category="{weights}",
            subcategory="{prompt}",
            labels={"weight setting": "{weights}", "prompt": "{prompt}"},
        ),
    params:
        settings=get_render_settings,
        code=CODE["render"],
    log:
        "logs/render/{weights}/{prompt}.log",
    threads: 1  # measured: the render's main thread does >99 % of its CPU work (Cairo drawing and encoding)
    resources:
        mem_mb=get_render_mem_mb,  # measured, growing with tokens and heads (common.smk)
        runtime=get_render_runtime,
    script:
        "../scripts/render.py"
