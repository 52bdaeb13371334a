"""Style holds without anyone watching: ruff (Python) and snakefmt (Snakefile, .smk) on the whole checkout,
with the settings in pyproject.toml. `snakemake --lint` is test_workflow.py's. To fix what they report:
`.venv/bin/ruff check --fix .` and `.venv/bin/snakefmt .`."""

import subprocess
import sys

from conftest import REPO


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_ruff_check_is_clean():
    proc = run("ruff", "check", "--no-cache", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_check_is_clean():
    proc = run("snakefmt", "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr + run("snakefmt", "--diff", ".").stdout
    # it saw every workflow file: the Snakefile and each .smk
    files = 1 + len(list((REPO / "workflow").rglob("*.smk")))
    assert f"{files} file(s) would be left unchanged" in proc.stderr, proc.stderr
