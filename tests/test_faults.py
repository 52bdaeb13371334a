"""Results that survive faults and can be shared: overflow stops the job with one line and writes
nothing, files follow the umask, a killed or interrupted sweep leaves no litter and reruns to the same
bytes, and summary.csv is safe to open in a spreadsheet."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import copy_workflow, read_config, snakemake, write_config

from attnpipe.report.summary import neutralise, read_summary, restore
from attnpipe.store.atomicfile import atomic_path

# Each number passes the config, but hidden state x weight x itself again is 1e80^4 = 1e320 > 1.8e308
# (float64's largest): the project stage's 1e160 is finite, attend's raw scores overflow.
HUGE = 1e80
OVERFLOW_CONFIG = {
    "tokenizer": "characters",
    "vocab": {"0": [HUGE, 0, 0], "1": [0, HUGE, 0]},
    "prompts": ["01"],
    "weights": {
        "fine": {"shared": "identity"},
        "huge": {"shared": [[HUGE, 0, 0], [0, HUGE, 0], [0, 0, 1]], "attention": {"causal": True}},
    },
}


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.tmp")]


def test_overflow_stops_with_one_line_and_writes_nothing_of_that_stage(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    write_config(wd, OVERFLOW_CONFIG)
    proc = snakemake(wd, "numeric", "--cores", "1", "--keep-going")
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("attnpipe: numeric error:")]
    assert lines, proc.stderr[-3000:]
    assert "weight setting 'huge'" in lines[0] and "prompt '01'" in lines[0] and "stage attend" in lines[0]
    assert "scores overflowed" in lines[0] and "inf" in lines[0]
    combination = wd / "results/huge/01"
    assert (combination / "project.pt").is_file() and (combination / "queries.csv").is_file()  # earlier stage kept
    later = [p.name for p in combination.iterdir() if not p.name.startswith(("project", "queries", "keys", "values"))]
    assert not later
    assert not temporaries(wd / "results")
    assert lines[0] in (wd / "logs/attend/huge/01.log").read_text()
    # the other setting, causal masks and all, is computed: -inf under the mask is not an error
    assert (wd / "results/fine/01/attention.csv").is_file()


def test_causal_mask_is_not_an_overflow(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    cfg = dict(OVERFLOW_CONFIG, vocab={"0": [1, 0, 0], "1": [0, 1, 0]})
    write_config(wd, cfg)
    snakemake(wd, "numeric", "--cores", "1", check=True)
    assert "-inf" in (wd / "results/huge/01/scaled_scores.csv").read_text()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_results_follow_the_umask(tmp_path, umask):
    wd = copy_workflow(tmp_path / "wf")
    write_config(wd, dict(OVERFLOW_CONFIG, vocab={"0": [1, 0, 0], "1": [0, 1, 0]}))  # small: 6 jobs
    old = os.umask(umask)  # inherited by the Snakemake process
    try:
        snakemake(wd, "numeric", "--cores", "1", check=True)
    finally:
        os.umask(old)
    modes = {oct(p.stat().st_mode & 0o777) for p in (wd / "results").rglob("*") if p.is_file()}
    assert modes == {oct(0o666 & ~umask)}


def test_rendered_results_follow_the_umask(built_default):
    # the full default sweep (videos, stills, thumbnails, index.html), built under the suite's umask
    umask = os.umask(0)
    os.umask(umask)
    files = [p for p in (built_default / "results").rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".mp4", ".png", ".html", ".csv", ".pt"}
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o666 & ~umask)}


def test_a_later_write_removes_temporaries_a_killed_job_left(tmp_path):
    target = tmp_path / "attend.pt"
    stale = [tmp_path / ".attend.pt.0123abcd.tmp", tmp_path / ".attend.pt.deadbeef.tmp"]
    others = [tmp_path / ".attention.csv.0123abcd.tmp", tmp_path / "attend.pt.notes", tmp_path / ".attend.pt.x.tmp"]
    for path in stale + others:
        path.write_text("left behind")
    with atomic_path(target) as tmp:
        Path(tmp).write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in others)  # another file's temporary (its own job cleans it) or not ours


def numeric_outputs(wd: Path) -> int:
    return sum(1 for p in (wd / "results").rglob("*") if p.is_file() and not p.name.endswith(".tmp"))


def interrupt_mid_run(wd: Path, sig: int, total: int) -> int:
    """Start `snakemake numeric`, send `sig` once some but not all outputs exist; the count at that moment."""
    env = {**os.environ, "PYTHONPATH": str(wd / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "numeric", "--cores", "2"], cwd=wd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while (found := numeric_outputs(wd) if (wd / "results").is_dir() else 0) < total // 4:
            assert proc.poll() is None, "the sweep ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(sig)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return found


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# What the videos and the page add to a sweep: everything else in results/ is `snakemake numeric`'s.
# (.snakemake_timestamp: Snakemake's mark in the page's folder of maps, results/_gallery/)
RENDERED = {"attention.mp4", "attention.png", "thumbnail.png", "index.html", ".snakemake_timestamp"}


def test_killed_or_interrupted_sweep_reruns_to_the_same_bytes(built_default, tmp_path):
    # the bytes a whole run makes: the session's default sweep (same config), less the videos and the page
    expected = {f: b for f, b in file_bytes(built_default / "results").items() if Path(f).name not in RENDERED}
    for name, sig in (("kill", signal.SIGKILL), ("ctrl-c", signal.SIGINT)):
        wd = copy_workflow(tmp_path / name)
        found = interrupt_mid_run(wd, sig, len(expected))
        assert 0 < found < len(expected), f"{name}: interrupted with {found} of {len(expected)} files"
        if sig == signal.SIGKILL:  # the lock of a killed Snakemake stays; README: --unlock, then the same command
            snakemake(wd, "--unlock", check=True)
        rerun = snakemake(wd, "numeric", "--cores", "2")  # plain rerun: the profile reruns incomplete jobs
        assert rerun.returncode == 0, f"{name}: {rerun.stderr[-3000:]}"
        assert not temporaries(wd / "results"), name
        got = file_bytes(wd / "results")
        assert sorted(got) == sorted(expected), name
        assert [f for f in expected if got[f] != expected[f]] == [], name


FORMULA_TEXTS = ["=1+1", "+SUM(1)", "-2+3", "@A1", "\t=1", "\r=1", "'=1", "''-1", "plain", "1-2", ""]


def test_neutralise_prefixes_formulas_and_restores_exactly():
    for text in FORMULA_TEXTS:
        assert restore(neutralise(text)) == text
    assert [neutralise(t) for t in ["=1+1", "@A1", "'=1", "plain", "1-2"]] == ["'=1+1", "'@A1", "''=1", "plain", "1-2"]
    assert neutralise(-2.5) == -2.5  # numbers stay numbers


def test_summary_csv_cells_are_safe_in_a_spreadsheet(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    cfg = read_config(wd)
    texts = {"eq": "=1+1", "plus": "+1", "at": "@SUM(A1)", "minus": "-x=1"}
    cfg["prompts"] = [{"id": pid, "text": text, "tokenizer": "words"} for pid, text in texts.items()]
    cfg["weights"] = {"seed": cfg["weights"]["seed"]}
    write_config(wd, cfg)
    snakemake(wd, "numeric", "--cores", "1", check=True)
    for path in (wd / "results").rglob("*.csv"):  # the summary, and the stage CSVs' row labels ("0:=1+1")
        with open(path, newline="", encoding="utf-8") as fh:
            for cell in (cell for row in csv.reader(fh) for cell in row):
                if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                    float(cell)  # only a number may start so (a spreadsheet reads "-1.5" as a number)
    summary = read_summary(wd / "results/summary.csv")
    assert dict(zip(summary["prompt"], summary["text"])) == texts  # read_summary gives the text back


def test_colour_ramps_take_nan():
    # Stages never save NaN now (see above), but a colour function must not crash on one.
    import numpy as np

    from attnpipe.look.colours import ramp

    colours = ramp(["#000000", "#ffffff"], np.array([np.nan, 1.0]))
    assert colours.tolist() == [[0, 0, 0], [255, 255, 255]]


def damage(path: Path, how: str) -> None:
    """Cut the file short, or overwrite one number inside it (its zip record's CRC-32 no longer matches), keeping
    its mtime: nothing is stale, the damage is found only by reading the file."""
    import struct

    import torch

    stat, data = path.stat(), path.read_bytes()
    if how == "truncated":
        data = data[: len(data) // 2]
    else:
        first = torch.load(path, weights_only=True)["scores"]["tensor"].flatten()[0].item()
        at = data.index(struct.pack("<d", first))
        data = data[:at] + struct.pack("<d", 12345.0) + data[at + 8:]
    path.write_bytes(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("how", ["truncated", "one number changed"])
def test_a_damaged_stage_file_is_refused_everywhere_with_its_path_and_the_fix(built_copy, how):
    attend = built_copy / "results/seed/012/attend.pt"
    damage(attend, how)
    expected = ["attnpipe: input error: ", "results/seed/012/attend.pt: damaged stage file (",
                "delete it and rerun to make it again"]
    for rule, target, log in (("summary", "results/summary.csv", "logs/summary.log"),
                              ("render", "results/seed/012/attention.png", "logs/render/seed/012.log")):
        proc = snakemake(built_copy, target, "--forcerun", rule, "--cores", "1")
        assert proc.returncode != 0
        lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith(expected[0])]
        assert lines and all(part in lines[0] for part in expected), (rule, (proc.stdout + proc.stderr)[-3000:])
        assert lines[0] in (built_copy / log).read_text(), rule  # the log Snakemake points to says the same
    if how == "truncated":  # the fix works
        attend.unlink()
        snakemake(built_copy, "results/summary.csv", "--cores", "1", check=True)


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_ctrl_c_just_after_the_workflow_finished_is_quiet_and_leaves_no_lock(tmp_path, delay):
    """Ctrl-C in the second after "Workflow Finished": Snakemake was removing its lock and ending its threads,
    and printed a KeyboardInterrupt traceback (or "Exception ignored in ... threading.py _shutdown"), the lock
    left behind. The work is done and recorded: the interrupt is let go."""
    workdir = copy_workflow(tmp_path / "wf")
    write_config(workdir, {**OVERFLOW_CONFIG, "weights": {"fine": OVERFLOW_CONFIG["weights"]["fine"]}})
    snakemake(workdir, "numeric", "--cores", "1", check=True)
    env = {**os.environ, "PYTHONPATH": str(workdir / "src")}
    sweep = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1", "--forcerun", "summary", "numeric"],
                             cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in sweep.stdout:
        seen.append(line)
        if "Workflow Finished" in line:
            time.sleep(delay)
            sweep.send_signal(signal.SIGINT)
            break
    seen.append(sweep.stdout.read())
    assert sweep.wait(timeout=60) == 0, "".join(seen)[-3000:]
    assert not any(word in "".join(seen) for word in ("Traceback", "KeyboardInterrupt", "Exception ignored")), seen
    assert snakemake(workdir, "-n", "numeric", "--cores", "1").returncode == 0  # not locked
