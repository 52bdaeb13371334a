# The whole sweep at a glance: a table with one row per combination, one with a row per head, and a static
# gallery page with a model view per (model, prompt). Small jobs over every combination, run where Snakemake
# runs (localrules); they read the stage files without torch. Measured with /usr/bin/time on a forced job
# (4 combinations): ~330 MB peak (Snakemake included), 3-4 CPU s; the gallery adds ~15 ms per combination
# (thumbnails, two at a time). benchmarks/gallery.py times a real model's sweep.


localrules:
    summary,
    gallery,


rule summary:
    input:
        embed=get_combination_embed_files,
        attend=get_attend_files,
    output:
        table=report(
            SUMMARY_CSV,
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "summary.csv"},
        ),
        page=report(
            SUMMARY_HTML,
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "summary.html"},
        ),
        heads=report(
            HEADS_CSV,
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "heads.csv"},
        ),
    params:
        settings=SWEEP.summary_settings(),
        code=CODE["summary"],
    log:
        "logs/summary.log",
    threads: 1
    resources:
        mem_mb=600,
        runtime=5,
    run:
        run_stage("summary", input, output, params, log)


rule gallery:
    input:
        summary=SUMMARY_CSV,
        heads=HEADS_CSV,
        attend=get_attend_files,
        stills=get_stills,
        videos=get_videos,
    output:
        page=GALLERY,
        assets=directory(GALLERY_ASSETS),
    params:
        settings=SWEEP.gallery_settings(),
        code=CODE["gallery"],
    log:
        "logs/gallery.log",
    threads: 2  # attnpipe.report.gallery.WORKERS
    resources:
        mem_mb=600,
        runtime=5,
    run:
        run_stage("gallery", input, output, params, log)
