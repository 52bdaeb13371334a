#!/usr/bin/env bash
# One entry point, idempotent, for a fresh Debian machine (as root, or with sudo):
#   ./run.sh sweep [snakemake args]   set up, then run the default sweep (snakemake --cores 4)
#   ./run.sh test  [pytest args]      set up, then run the test suite
#   ./run.sh setup                    set up only
# Set-up = the Debian packages Manim builds and runs with, a virtual environment in .venv, and this
# package with its pinned dependencies (reinstalled only when pyproject.toml changes). `sweep` installs
# the runtime only; `test` and `setup` add the extras `test` (pytest, the importer's test model) and
# `hf` (transformers, for models: in the config), so the real-model tests run.
set -euo pipefail
cd "$(dirname "$0")"

# Fonts, so a token in any script is drawn, not a box (the video, the still): DejaVu (Latin, Greek, Cyrillic, Hebrew,
# Arabic and Persian letters), WenQuanYi Micro Hei (Chinese, Japanese kana, Korean), Amiri (the Arabic letters DejaVu
# lacks: Urdu's, Quranic marks), Symbola (emoji as outlines: Manim draws outlines, and a colour emoji font's bitmaps
# would not show). 11 MB besides DejaVu; Noto CJK alone is 91 MB.
FONT_PACKAGES=(fonts-dejavu-core fonts-wqy-microhei fonts-hosny-amiri fonts-symbola)
APT_PACKAGES=(libcairo2-dev libpango1.0-dev pkg-config ffmpeg gcc python3-dev "${FONT_PACKAGES[@]}")
# Only `./run.sh test` needs these: the gallery tests use results/index.html in headless chromium (Playwright),
# tests/test_slurm.py runs the sweep on a single-node SLURM cluster.
TEST_APT_PACKAGES=(chromium slurmctld slurmd slurm-client munge)
PYTHON=${PYTHON:-python3}
VENV=.venv

setup_system() {  # the Debian packages given as arguments, those missing installed
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    # python3-dev is only needed for a Debian python; a pyenv/self-built python ships its headers.
    if [[ " ${missing[*]} " == *" python3-dev "* ]] && \
        [ -f "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then
        local pkg rest=()
        for pkg in "${missing[@]}"; do [ "$pkg" = python3-dev ] || rest+=("$pkg"); done
        missing=("${rest[@]}")
    fi
    [ "${#missing[@]}" -eq 0 ] && return
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    echo "run.sh: installing Debian packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# True when the stamp says this pyproject.toml was installed with every extra in $1 (comma-separated).
installed() {
    local sha extras have
    read -r sha extras 2>/dev/null <"$VENV/.attnpipe-installed" || return 1
    [ "$sha" = "$(sha256sum pyproject.toml | cut -d' ' -f1)" ] || return 1
    for have in ${1//,/ }; do [[ ",$extras," == *",$have,"* ]] || return 1; done
}

setup_python() {
    local extras=$1 target=.
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    installed "$extras" && return
    [ -n "$extras" ] && target=".[$extras]"
    echo "run.sh: installing attnpipe${extras:+ with $extras} and its pinned dependencies into $VENV" >&2
    if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$target" >"$VENV/pip.log" 2>&1; then
        grep -v "^WARNING: Location" "$VENV/pip.log" >&2
        exit 1
    fi
    "$VENV/bin/python" -c "import attnpipe, torch, snakemake, manim, safetensors, snakemake_logger_plugin_attnpipe" # fail here, not mid-sweep
    echo "$(sha256sum pyproject.toml | cut -d' ' -f1) $extras" >"$VENV/.attnpipe-installed"
}

setup() { setup_system "${APT_PACKAGES[@]}"; setup_python ""; }
# the test suite also needs a browser (gallery test), SLURM (cluster test) and the extras test,hf (importer test)
setup_for_tests() { setup_system "${APT_PACKAGES[@]}" "${TEST_APT_PACKAGES[@]}"; setup_python test,hf; }

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup) setup_for_tests ;;
    # --configfile files checked first: Snakemake parses them before the workflow can report on them
    sweep) setup; "$VENV/bin/python" -m attnpipe.config.configfile "$@" && exec "$VENV/bin/snakemake" --cores 4 "$@" ;;
    # two pytest-xdist workers, tests handed out in collection order (tests/conftest.py puts the SLURM sweep,
    # mostly waiting, first); an xdist_group mark keeps a module's shared fixture on one worker. `-n 0`: one process
    test) setup_for_tests; exec "$VENV/bin/python" -m pytest -n 2 --dist loadgroup --no-loadscope-reorder "$@" ;;
    *) echo "usage: ./run.sh {sweep|test|setup} [args]" >&2; exit 2 ;;
esac
