#!/usr/bin/env bash
# One entry point, idempotent, for a fresh Debian machine (as root, or with sudo):
#   ./run.sh sweep [snakemake args]   set up, then run the default sweep (snakemake --cores 4)
#   ./run.sh test  [pytest args]      set up, then run the test suite
#   ./run.sh setup                    set up only
# Set-up = the Debian packages Manim builds and runs with, a virtual environment in .venv, and this
# package with its pinned dependencies (reinstalled only when pyproject.toml changes).
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(libcairo2-dev libpango1.0-dev pkg-config ffmpeg gcc python3-dev)
# Only for `./run.sh test`: tests/test_slurm.py runs the sweep on a single-node SLURM cluster.
TEST_APT_PACKAGES=(slurmctld slurmd slurm-client munge)
PYTHON=${PYTHON:-python3}
VENV=.venv

setup_system() {  # args: Debian packages
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    # python3-dev is only needed for a Debian python; a pyenv/self-built python ships its headers.
    if [ "${#missing[@]}" -eq 1 ] && [ "${missing[0]}" = python3-dev ] && \
        [ -f "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then
        missing=()
    fi
    [ "${#missing[@]}" -eq 0 ] && return
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    echo "run.sh: installing Debian packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_python() {
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    local stamp="$VENV/.attnpipe-installed" want
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "run.sh: installing attnpipe and its pinned dependencies into $VENV" >&2
        if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]' >"$VENV/pip.log" 2>&1; then
            grep -v "^WARNING: Location" "$VENV/pip.log" >&2
            exit 1
        fi
        "$VENV/bin/python" -c "import attnpipe, torch, snakemake, manim" # fail here, not mid-sweep
        echo "$want" >"$stamp"
    fi
}

setup() { setup_system "${APT_PACKAGES[@]}" "$@"; setup_python; }

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup) setup ;;
    sweep) setup; exec "$VENV/bin/snakemake" --cores 4 "$@" ;;
    test) setup "${TEST_APT_PACKAGES[@]}"; exec "$VENV/bin/python" -m pytest "$@" ;;
    *) echo "usage: ./run.sh {sweep|test|setup} [args]" >&2; exit 2 ;;
esac
