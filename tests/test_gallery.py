"""The sweep at a glance: summary.csv against the stage CSVs, index.html's markup (in a browser:
test_gallery_browser.py), `snakemake --report report.zip`, progress in the terminal, and when the summary and
page are rebuilt."""

import json
import math
import os
import re
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from conftest import planned_rules, read_config, snakemake, write_config

from attnpipe.numeric.tokens import derive_id
from attnpipe.report.gallery import gallery_html, read_combination
from attnpipe.report.summary import mean_row_entropy, most_attended, summary_html

PROMPTS = ["012", "2024", "31415926", "the-cat"]
WEIGHTS = ["seed", "identity", "seed-causal", "random", "two-heads"]


def read_summary(workdir) -> pd.DataFrame:
    return pd.read_csv(workdir / "results/summary.csv", dtype={"prompt": str, "text": str, "weights": str})


def per_head(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """A stage CSV of (heads, T, T) split back into heads (rows 'h<i>/<label>' when more than one)."""
    if not str(frame.index[0]).startswith("h0/"):
        return [frame]
    heads = sorted({label.split("/", 1)[0] for label in frame.index}, key=lambda h: int(h[1:]))
    return [frame[frame.index.str.startswith(f"{h}/")].rename(index=lambda s: s.split("/", 1)[1]) for h in heads]


def test_summary_has_one_row_per_combination_with_its_config(built_default):
    summary = read_summary(built_default)
    cfg = read_config(built_default)
    assert [(w, p) for w, p in zip(summary["weights"], summary["prompt"])] == [(w, p) for w in WEIGHTS for p in PROMPTS]
    texts = {p if isinstance(p, str) else p.get("id") or derive_id(p["text"]): p if isinstance(p, str) else p["text"]
             for p in cfg["prompts"]}
    for row in summary.itertuples():
        options = {"scale": "1/sqrt(d_head)", "causal": False, "softmax": True, **cfg["weights"][row.weights].get(
            "attention", {})}
        assert row.text == texts[row.prompt]
        assert (row.scale, row.causal, row.softmax) == (options["scale"], options["causal"], options["softmax"])


def test_summary_numbers_are_the_stage_csvs(built_default):
    results = built_default / "results"
    summary = read_summary(built_default)
    assert len(summary) == 20
    for row in summary.itertuples():
        scores = per_head(pd.read_csv(results / row.scores_csv, index_col=0))
        attention = per_head(pd.read_csv(results / row.attention_csv, index_col=0))
        hidden = pd.read_csv(results / row.hidden_states_csv, index_col=0)
        assert row.heads == len(attention) == len(scores)
        assert row.n_tokens == len(attention[0]) == len(hidden)
        assert row.d_model == hidden.shape[1]
        # the CSVs hold exact values (repr), and so does summary.csv: max and min must be equal, not close
        assert row.max_score == max(head.to_numpy().max() for head in scores)
        assert row.min_score == min(head.to_numpy().min() for head in scores)
        entropies = [-(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum() for head in attention
                     for p in head.to_numpy()]
        assert math.isclose(row.mean_entropy, np.mean(entropies), rel_tol=1e-12)
        argmax = [[f"{q}→{head.columns[np.argmax(w)]}" for q, w in zip(head.index, head.to_numpy())]
                  for head in attention]
        expected = "; ".join(argmax[0]) if len(argmax) == 1 else " | ".join(
            f"h{h}: {'; '.join(pairs)}" for h, pairs in enumerate(argmax))
        assert row.most_attended == expected
        for path in (row.video, row.still, *(getattr(row, c) for c in summary.columns if c.endswith("_csv"))):
            assert (results / path).is_file(), path


def test_summary_statistics_of_a_non_distribution():
    # softmax: false leaves weights that are not probabilities: no entropy, argmax still defined
    weights = np.array([[[0.5, -1.0], [2.0, 2.0]]])
    assert math.isnan(mean_row_entropy(weights))
    assert most_attended(weights, ["0:a", "1:b"], ["0:a", "1:b"]) == "0:a→0:a; 1:b→0:a"
    uniform = np.full((2, 3, 3), 1 / 3)
    assert math.isclose(mean_row_entropy(uniform), math.log(3))
    # a model's softmax, computed in float32: its rows sum to 1 within float32's precision, and count
    rows = np.array([[[0.3, 0.7 + 2e-7], [0.5, 0.5]]])
    assert math.isclose(mean_row_entropy(rows), (-(0.3 * math.log(0.3) + 0.7 * math.log(0.7)) + math.log(2)) / 2,
                        rel_tol=1e-6)


def test_summary_and_page_update_when_a_combination_changes_and_only_then(built_copy):
    assert planned_rules(built_copy) == []
    cfg = read_config(built_copy)
    cfg["weights"]["seed-causal"]["attention"]["causal"] = False  # one weight setting's attention changes
    write_config(built_copy, cfg)
    assert planned_rules(built_copy) == sorted(["attend"] * 4 + ["render"] * 4 + ["summary", "gallery"])
    before = read_summary(built_copy)
    snakemake(built_copy, "numeric", "--cores", "2", check=True)  # the stage files and the summary, no videos
    after = read_summary(built_copy)
    changed = before.compare(after).index
    assert set(after.loc[changed, "weights"]) == {"seed-causal"} and len(changed) == 4
    assert not after.loc[after["weights"] == "seed-causal", "causal"].any()
    assert planned_rules(built_copy) == sorted(["render"] * 4 + ["gallery"])  # the summary is up to date


def test_edited_page_template_reruns_the_pages_only(built_copy):
    template = built_copy / "src/attnpipe/report/templates/index.html.j2"
    template.write_text(template.read_text().replace("Click a still", "Click any still"))
    assert planned_rules(built_copy) == ["gallery", "summary"]  # the templates are the pages' code: no stage, no video


def test_render_option_reruns_the_page_but_not_the_summary(built_copy):
    cfg = read_config(built_copy)
    cfg.setdefault("render", {})["precision"] = 3
    write_config(built_copy, cfg)
    assert planned_rules(built_copy) == sorted(["render"] * 20 + ["gallery"])


def test_sweep_terminal_shows_one_line_per_job_not_manim(built_default):
    # not a terminal (the test captures it): no bars, one plain line per finished job with the time left
    terminal = (built_default.parent / "sweep-terminal.txt").read_text()
    steps = re.findall(r"^(\d+) of (\d+) steps \(\d+%\) done: (\w+)(.*)$", terminal, re.M)
    assert steps and steps[-1][0] == steps[-1][1] and len(steps) == int(steps[-1][1])
    assert [int(done) for done, *_ in steps] == list(range(1, len(steps) + 1))
    assert re.search(r"^\d+ of 72 steps \(\d+%\) done: render weights=seed, prompt=012(, |$)", terminal, re.M)
    assert any(re.search(r", about (\d+ min )?\d+ s left$", rest) for *_, rest in steps[:-1])
    assert len(terminal.splitlines()) < len(steps) + 40  # the job blocks (inputs, outputs, reason) stay quiet
    for noise in ("input:", "reason:", "\x1b[", "Animation ", "it/s]", "%|", "\r", "File ready at",
                  "Rendered AttentionStory"):
        assert noise not in terminal
    log = (built_default / "logs/render/seed/012.log").read_text()
    assert "rendered seed/012" in log


def test_failed_job_is_loud_and_names_its_log_and_full_log_is_one_flag(built_copy):
    stage = built_copy / "src/attnpipe/stages/attend.py"
    stage.write_text(stage.read_text().replace("def run(settings", "def run(*_):\n    raise ValueError('broken')\n\n\n"
                                                "def unused(settings"))
    failed = snakemake(built_copy, "results/seed/012/attend.pt", "--cores", "1")
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "Error in rule attend:" in output and "broken" in output
    assert "log: logs/attend/seed/012.log (check log file(s) for error details)" in output
    full = snakemake(built_copy, "results/seed/012/attend.pt", "--cores", "1", "--logger-attnpipe-full-log")
    output = full.stdout + full.stderr
    assert full.returncode != 0  # Snakemake's own log: every job with its inputs, outputs and reason
    assert re.search(r"^localrule attend:\n    input: results/seed/012/project.pt$", output, re.M), output
    assert "reason: " in output and "Error in rule attend:" in output


class Markup(HTMLParser):
    """Tags with their attributes, and the text as a browser shows it (entities decoded)."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], ""
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data


def page_settings(frame: pd.DataFrame) -> dict:
    """The gallery rule's settings for the toy settings of a summary (every head shown)."""
    first = frame.drop_duplicates("weights")
    return {"precision": 2, "scheme": "default", "models": {}, "weights": {
        row.weights: {"softmax": row.softmax == "True", "show_heads": list(range(int(row.heads)))}
        for row in first.itertuples()}}


def test_pages_escape_what_a_prompt_text_holds(built_default, tmp_path):
    # a prompt's text is free text: it must show as text on both pages, never run or load anything
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quoted" \'single\''
    results = built_default / "results"
    frame = pd.read_csv(results / "summary.csv", dtype=str, keep_default_na=False)
    frame.loc[frame["prompt"] == "012", "text"] = hostile
    settings = page_settings(frame)
    combos = {(w, p): read_combination(w, p, results / w / p / "attend.pt", settings, tmp_path)
              for w, p in zip(frame["weights"], frame["prompt"])}
    page = gallery_html(frame, combos, {still: (320, 180) for still in frame["still"]}, settings)
    table = read_summary(built_default)
    table.loc[table["prompt"] == "012", "text"] = hostile
    for html, own_scripts in ((page, 1), (summary_html(table), 0)):
        markup = Markup(html)
        assert [tag for tag, _ in markup.tags].count("script") == own_scripts  # the page's own, none injected
        assert not any("onerror" in attrs for _, attrs in markup.tags)
        assert all(attrs.get("src") != "x" for _, attrs in markup.tags)
        assert hostile in markup.text  # shown as typed
    assert any(attrs.get("data-title", "").endswith(f"“{hostile}”") for _, attrs in Markup(page).tags)


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("href", "src") and value]


def test_page_is_offline_and_every_link_resolves(built_default):
    page = built_default / "results/index.html"
    parser = Links()
    parser.feed(page.read_text(encoding="utf-8"))
    assert len(parser.links) > 20 * 10
    for link in parser.links:
        assert not re.match(r"^[a-z]+:|^/", link), link  # relative: no http(s), file or absolute paths
        assert (page.parent / link).is_file(), link
    assert sorted(Path(link).name for link in parser.links if link.endswith("thumbnail.png")) == ["thumbnail.png"] * 20


# Snakemake in this process, then what it imported: the summary and gallery jobs run in its threads
# (profiles/default: force-use-threads), as in a sweep.
IMPORTS_OF_A_RUN = """
import sys
from snakemake.cli import main
try:
    main(["results/index.html", "--forcerun", "summary", "gallery", "--cores", "2"])
    code = 0
except SystemExit as done:
    code = done.code
print("exit", code)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "manim")))
"""


def test_summary_and_gallery_jobs_import_neither_torch_nor_manim(built_copy):
    # they read stage files with attnpipe.store.torchfile and take the palette from render.colours (Manim-free):
    # they run where Snakemake runs, and importing torch (~2 s) or Manim there would cost seconds for nothing
    env = {**os.environ, "PYTHONPATH": str(built_copy / "src")}
    pages = [built_copy / "results/summary.csv", built_copy / "results/index.html"]
    before = [page.stat().st_mtime_ns for page in pages]
    run = subprocess.run([sys.executable, "-c", IMPORTS_OF_A_RUN], cwd=built_copy, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.stdout.splitlines()[-2:] == ["exit 0", "[]"], run.stdout + run.stderr
    assert all(page.stat().st_mtime_ns > t for page, t in zip(pages, before))  # both jobs did run


def report_data(report: zipfile.ZipFile, name: str):
    html = report.read("report/report.html").decode()
    return json.loads(re.search(rf'<script id="{name}">\s*var {name} = (.*);\s*</script>', html).group(1))


def test_report_zip_has_stills_and_summary_in_categories(built_copy):
    snakemake(built_copy, "--report", "report.zip", "--cores", "1", check=True)
    with zipfile.ZipFile(built_copy / "report.zip") as report:
        names = report.namelist()
        assert "report/report.html" in names
        stills = [n for n in names if n.endswith("/attention.png")]
        assert len(stills) == 20
        assert any(n.endswith("/summary.csv") for n in names) and any(n.endswith("/summary.html") for n in names)
        categories = report_data(report, "categories")
        results = report_data(report, "results")
        zipped = {Path(n).parent.name: report.read(n) for n in stills}
    assert set(categories) == {*WEIGHTS, "Summary"}
    for weights in WEIGHTS:
        assert set(categories[weights]) == set(PROMPTS)
        for prompt, paths in categories[weights].items():
            assert paths == [f"results/{weights}/{prompt}/attention.png"]
            entry = results[paths[0]]
            assert entry["labels"] == {"weight setting": weights, "prompt": prompt}
            caption = re.sub(r"<[^>]+>", "", entry["caption"])
            assert f"prompt {prompt} (" in caption and f"weight setting {weights}:" in caption
    assert sorted(Path(p).name for p in categories["Summary"][next(iter(categories["Summary"]))]) == [
        "heads.csv", "summary.csv", "summary.html"]
    assert results["results/summary.csv"]["caption"].strip()
    # the zip carries the stills themselves
    seed_still = (built_copy / "results/seed/012/attention.png").read_bytes()
    assert seed_still in zipped.values()



def test_heatmap_tables_colour_as_the_still():
    from attnpipe.look.colours import SCHEMES
    from attnpipe.report.maps import heatmap_html, scale_legend, weights_scale
    from attnpipe.store.stagefiles import record

    scheme = SCHEMES["default"]
    labels = ["0:a", "1:b"]

    def cells(weights, softmax):
        values = weights.numpy()
        html = heatmap_html({"tensor": values, "row_labels": labels, "column_labels": labels}, [0],
                            weights_scale(values, softmax), 2, scheme)
        return re.findall(r'<td style="background:(#\w+);color:(#\w+)" title="([^"]*)">([^<]*)</td>', html)

    # probabilities from 0 to the largest weight shown, as the still's colour bar (not a fixed 0-1 scale)
    found = cells(torch.tensor([[[0.0, 0.4], [0.1, 0.3]]], dtype=torch.float64), True)
    assert [text for *_, text in found] == ["0", "0.4", "0.1", "0.3"]
    assert found[0][0] == scheme["low"][0] and found[1][0] == scheme["low"][-1]  # 0.4 is the top
    assert (found[0][1], found[1][1]) == ("#ffffff", "#000000")  # the video's text colour rule
    assert found[1][2] == "0:a → 1:b: 0.4"
    # softmax: false leaves signed weights: diverging around 0, as the still
    found = cells(torch.tensor([[[-2.0, 0.0], [1.0, 3.0]]], dtype=torch.float64), False)
    assert [text for *_, text in found] == ["−2", "0", "1", "3"]
    assert found[1][0] == scheme["middle"] and found[3][0] == scheme["positive"]
    # a masked cell (softmax: false keeps the causal mask's -inf) in the video's masked colour
    masked = record(torch.tensor([[[1.0, -math.inf], [1.0, 2.0]]], dtype=torch.float64), labels, labels)
    masked["tensor"] = masked["tensor"].numpy()
    assert f'<td style="background:{scheme["masked"]};color:#ffffff" title="0:a → 1:b: −∞">' in (
        heatmap_html(masked, [0], weights_scale(masked["tensor"], False), 2, scheme))
    # a few weights near 1 above many small ones: the scale ends at the 99th percentile and says so
    weights = np.full((1, 20, 20), 0.01)
    weights[0, :3, 0] = 0.95
    legend = scale_legend(weights_scale(weights, True), scheme, 2)
    assert legend["clipped"] and legend["hi"] == "0.01" and "99th percentile" in legend["meaning"]
    assert scale_legend(weights_scale(weights[:, 3:, 3:], True), scheme, 2)["meaning"] == (
        "the top is the largest weight shown")


def test_a_later_gallery_removes_the_folders_a_killed_one_left(tmp_path):
    from attnpipe.report.gallery import remove_stale_folders

    left = [tmp_path / "._gallery.0123abcd.tmp", tmp_path / "._gallery.deadbeef.old"]
    kept = [tmp_path / "_gallery", tmp_path / "._gallery.x.tmp", tmp_path / ".other.0123abcd.tmp"]
    for folder in left + kept:
        (folder / "models").mkdir(parents=True)
    remove_stale_folders(tmp_path / "_gallery")
    assert [f for f in left + kept if f.exists()] == kept
