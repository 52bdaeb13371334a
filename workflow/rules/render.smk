# The video per combination, from the stage files only. A `script:` rule: each render is a process
# of its own with its own Manim media folder, so parallel renders never share state.


rule render:
    input:
        embed="results/embeddings/{prompt}/embed.pt",
        weights="results/{weights}/weights.pt",
        project="results/{weights}/{prompt}/project.pt",
        attend="results/{weights}/{prompt}/attend.pt",
    output:
        video="results/{weights}/{prompt}/attention.mp4",
        still=report(
            "results/{weights}/{prompt}/attention.png",
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
    script:
        "../scripts/render.py"
