# The whole sweep at a glance: a table with one row per combination, and a static gallery page.
# Both are small jobs over every combination, run where Snakemake runs (localrules). Measured with
# /usr/bin/time on a forced job (4 combinations): ~330 MB peak (Snakemake and torch included), 3-4 CPU s;
# the gallery adds ~45 ms per combination (thumbnails), ~40 s for a 30 x 30 sweep.


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
    params:
        settings=get_summary_settings(),
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
        attend=get_attend_files,
        stills=get_stills,
        videos=get_videos,
    output:
        page=GALLERY,
        thumbnails=get_combination_files(THUMBNAIL),
    params:
        settings=get_gallery_settings(),
        code=CODE["gallery"],
    log:
        "logs/gallery.log",
    threads: 1
    resources:
        mem_mb=600,
        runtime=5,
    run:
        run_stage("gallery", input, output, params, log)
