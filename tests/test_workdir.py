"""Snakemake's own way of running a workflow from elsewhere: `-s path/Snakefile -d folder --configfile f.yaml
--replace-workflow-config` needs no config/config.yaml in the working folder, and results go there."""

import os
import subprocess
import sys

from conftest import copy_workflow

TINY = 'vocab: {"0": [1, 0], "1": [0, 1]}\nprompts: ["01"]\nweights: {w: {shared: identity}}\n'


def test_a_run_from_another_folder_with_its_own_config(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "tiny.yaml").write_text(TINY)
    for extra in (["--replace-workflow-config"], []):  # config/config.yaml of `elsewhere`: none, nothing to merge
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "numeric", "-s", "workflow/Snakefile", "-d", "elsewhere",
             "--cores", "1", "--configfile", "tiny.yaml", *extra],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(workflow / "src")}, capture_output=True,
            text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "elsewhere/results/w/01/attention.csv").is_file()
    assert not (workflow / "results").exists()
