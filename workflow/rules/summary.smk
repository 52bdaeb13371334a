# The whole sweep at a glance: a table with one row per combination, and a static gallery page.
# Both are small jobs over every combination, run where Snakemake runs (localrules).


localrules:
    summary,
    gallery,


rule summary:
    input:
        embed=expand("results/embeddings/{prompt}/embed.pt", prompt=PROMPTS),
        attend=get_combination_files("attend.pt"),
    output:
        table=report(
            "results/summary.csv",
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "summary.csv"},
        ),
        page=report(
            "results/summary.html",
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "summary.html"},
        ),
    params:
        settings=get_summary_settings(),
        code=CODE["summary"],
    log:
        "logs/summary.log",
    run:
        run_stage("summary", input, output, params, log)


rule gallery:
    input:
        summary="results/summary.csv",
        attend=get_combination_files("attend.pt"),
        stills=get_combination_files("attention.png"),
        videos=get_combination_files("attention.mp4"),
    output:
        page="results/index.html",
        thumbnails=get_combination_files("thumbnail.png"),
    params:
        settings=get_gallery_settings(),
        code=CODE["gallery"],
    log:
        "logs/gallery.log",
    run:
        run_stage("gallery", input, output, params, log)
