#!/usr/bin/env bash
# Mutation testing of the physics and statistics modules (issue 16): does the test suite notice
# when the code is wrong? mutmut changes one operator/constant/name at a time in a module and
# runs that module's tests; a mutant that passes them all "survives".
#
# Usage:  tools/mutation.sh [MODULE ...]
#   MODULE: cross_section form_factors rates fastlik inference quenching resolution templates
#           response backgrounds tables (default: cross_section form_factors rates fastlik
#           inference); a package stands for its modules (fastlik: fastlik/interpolation
#           fastlik/kernel fastlik/model fastlik/fitting; inference: inference/engine
#           inference/significance inference/exposure inference/limits; templates:
#           templates/containers templates/signal templates/background templates/build), each
#           of which can also be named alone
# Environment:
#   MUTATION_TIMEBOX   seconds per module (default 600); a module cut short reports the
#                      mutants it reached ("not checked" counts the rest)
#   MUTATION_DIR       scratch directory (default: a new temporary one); the repository is
#                      copied there, so the working tree is never mutated
#   MUTATION_TESTS_REV take tests/ from this git revision (e.g. to score an older suite)
#   MUTATION_LINES_<module>  line ranges to mutate, e.g. MUTATION_LINES_fastlik_kernel=136:192
#                      ("/" in the module written "_"; defaults in lines_for(); empty for the
#                      whole module)
#   PYTHON             interpreter with mutmut 2.5 installed (default: .venv/bin/python;
#                      pip install 'mutmut==2.5.1' whatthepatch)
# Output: per module, killed / survived / timed out / not checked and the score
# killed / (killed + survived + timed out); `mutmut show ID` in MUTATION_DIR shows a mutant.
# mutmut remembers results in MUTATION_DIR/.mutmut-cache: re-running with stronger tests only
# re-checks the survivors and the mutants not reached yet (killed mutants stay killed).
# Not in CI: a module has 40–800 mutants at 5–15 s each on two cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
TIMEBOX=${MUTATION_TIMEBOX:-600}
WORK=${MUTATION_DIR:-$(mktemp -d -t cevns-mutation.XXXXXX)}
REQUESTED=("$@")
[ ${#REQUESTED[@]} -eq 0 ] && REQUESTED=(cross_section form_factors rates fastlik inference)

# The modules a package name stands for, in data-flow order: for fastlik and inference those
# holding the mathematics lines_for() scopes (name the others alone: fastlik/deviance,
# fastlik/workspace, inference/background_free, inference/impacts, inference/results).
modules_of() {
  case "$1" in
    fastlik) echo fastlik/interpolation fastlik/kernel fastlik/model fastlik/fitting ;;
    inference) echo inference/engine inference/significance inference/exposure inference/limits ;;
    templates) echo templates/containers templates/signal templates/background templates/build ;;
    *) echo "$1" ;;
  esac
}
MODULES=()
for m in "${REQUESTED[@]}"; do
  for sub in $(modules_of "$m"); do MODULES+=("$sub"); done
done

# The fast tests that exercise each module (slow subprocess/figure tests deselected below);
# files missing from the tests being scored are skipped. Each mutant costs one pytest start
# (~3 s) plus these tests, so the lists stay short.
tests_for() {
  case "$1" in
    # package modules with lists of their own (the zero-background convention's tests live
    # with the robustness ones; the deviance and impacts with the fast path's)
    inference/background_free) echo test_background_free test_fastlik_observed test_robustness test_inference_mutants test_fastlik_mutants ;;
    fastlik/deviance) echo test_fastlik test_fastlik_observed test_fastlik_mutants ;;
    fastlik/workspace) echo test_fastlik_workspace test_fastlik test_fastlik_observed test_fastlik_mutants ;;
    inference/impacts) echo test_impacts test_inference test_cli_options ;;
    */*) tests_for "${1%%/*}" ;;
    cross_section) echo test_cross_section test_form_factors test_normalisation ;;
    form_factors) echo test_form_factors test_cross_section test_normalisation ;;
    rates) echo test_rates test_normalisation ;;
    fastlik) echo test_fastlik test_fastlik_observed test_fastlik_mutants ;;
    inference) echo test_inference test_inference_mutants test_fastlik_observed test_regression_values ;;
    quenching) echo test_quenching test_quenching_correlated test_response_checks test_normalisation test_model_features ;;
    resolution) echo test_resolution test_resolution_polya test_normalisation test_model_features ;;
    templates) echo test_templates_mutants test_templates test_coherent test_normalisation test_model_features test_model_format ;;
    response) echo test_response_mutants test_response test_templates test_normalisation test_coherent ;;
    backgrounds) echo test_backgrounds test_model_format test_coherent test_detector test_templates test_normalisation ;;
    tables) echo test_tables test_model_format test_coherent test_spectra ;;
    *) echo "unknown module $1" >&2; exit 2 ;;
  esac
}

# Line ranges (FIRST:LAST, 1-based, comma-separated) mutated in the large modules; empty: all.
# fastlik: code-4/4p interpolation (interpolation: _code4_coefficients..code4p_delta),
# expected counts and their Jacobian (kernel: _gamma.._lam_jac), ln L, −ln L and its
# gradient, Jacobian, Fisher diagonal, Asimov data (model: expected_rows..fisher_diagonal,
# asimov), the Gauss-Newton objective/gradient/Hessian (fitting: _newton_loop up to its
# Cholesky solve). inference: q0 from the Asimov and the observed data, toys (engine:
# _z_from_q0.._single_bin_counting, _check_exposure), toy and exact p-values (significance:
# _toy_pvalue, _exact_significance), exposure solving (exposure: all), CLs (limits: _BANDS
# to the end of the module: the root finder, the background-free limit). Re-derive the ranges after editing these functions.
lines_for() {
  local var="MUTATION_LINES_${1//\//_}"
  if [ -n "${!var:-}" ]; then echo "${!var}"; return; fi
  case "$1" in
    fastlik/interpolation) echo "32:85" ;;
    fastlik/kernel) echo "18:192" ;;
    fastlik/model) echo "151:208,210:219" ;;
    fastlik/fitting) echo "86:155" ;;
    inference/engine) echo "27:136" ;;
    inference/significance) echo "151:196" ;;
    inference/exposure) echo "26:206" ;;
    inference/limits) echo "26:206" ;;
    *) echo "" ;;
  esac
}

if [ ! -f "$WORK/pyproject.toml" ]; then  # first run in this directory: copy the repository
  git -C "$ROOT" ls-files -co --exclude-standard | tar -C "$ROOT" -cf - -T - | tar -C "$WORK" -xf -
  if [ -n "${MUTATION_TESTS_REV:-}" ]; then
    rm -rf "$WORK/tests"
    git -C "$ROOT" archive "$MUTATION_TESTS_REV" tests | tar -C "$WORK" -xf -
  fi
fi
cd "$WORK"
echo "mutation testing in $WORK" >&2
for module in "${MODULES[@]}"; do
  files=()
  tag=${module//\//_}  # file-name form of fastlik/kernel
  for t in $(tests_for "$module"); do
    [ -f "tests/$t.py" ] && files+=("tests/$t.py")
  done
  # the tests marked slow (a 20x refined calculation, toys) are deselected for the modules
  # whose lists share them: each surviving mutant runs the whole list
  marks=""
  case "${module%%/*}" in backgrounds|tables|templates|response) marks="-m 'not slow'" ;; esac
  runner="$PY -m pytest -x -q -p no:cacheprovider $marks -k 'not recoil_spectra and not coherent_example' ${files[*]}"
  echo "== $module: $runner" >&2
  # mutmut 2.5 can fail ("Attribute Mutant.line is required") on a source line that occurs
  # twice: in the scratch copy, repeated lines (mostly keyword defaults of sibling functions)
  # are marked "# pragma: no mutate" and not mutated; the first occurrence still is
  cp "$ROOT/cevns_fit/$module.py" "cevns_fit/$module.py"
  "$PY" - "cevns_fit/$module.py" <<'PYEOF'
import ast
import sys

path = sys.argv[1]
lines = open(path, encoding="utf-8").read().splitlines(keepends=True)
seen = set()
for i, line in enumerate(lines):
    text = line.rstrip("\n")
    if text.strip() and text in seen and not text.rstrip().endswith("\\"):
        lines[i] = f"{text}  # pragma: no mutate\n"
    seen.add(text)
source = "".join(lines)
ast.parse(source)
open(path, "w", encoding="utf-8").write(source)
PYEOF
  cp "cevns_fit/$module.py" "$tag.py.tagged"
  # Large modules: mutate only the line ranges that hold the mathematics (MUTATION_LINES, or
  # the defaults below), through a patch that marks those lines as added.
  scope=()
  ranges=$(lines_for "$module")
  if [ -n "$ranges" ]; then
    "$PY" - "cevns_fit/$module.py" "$ranges" >"$tag.scope.patch" <<'PYEOF'
import difflib
import sys

path, ranges = sys.argv[1], sys.argv[2]
lines = open(path, encoding="utf-8").read().splitlines(keepends=True)
chosen = set()
for part in ranges.split(","):
    lo, hi = (int(x) for x in part.split(":"))
    chosen.update(range(lo, hi + 1))
before = [line for n, line in enumerate(lines, 1) if n not in chosen]
sys.stdout.writelines(difflib.unified_diff(before, lines, f"a/{path}", f"b/{path}"))
PYEOF
    scope=(--use-patch-file "$tag.scope.patch")
    echo "   lines $ranges" >&2
  fi
  # mutmut 2.5 sometimes dies in its cache ("Attribute Mutant.line is required", a race between
  # its two processes) and then hangs: watch the log, stop it, restore the module, resume
  # (the cache keeps every finished mutant). Stop at the time-box or after 8 restarts.
  deadline=$((SECONDS + TIMEBOX))
  attempt=0
  while [ "$SECONDS" -lt "$deadline" ] && [ "$attempt" -lt 8 ]; do
    attempt=$((attempt + 1))
    log="mutmut-$tag.$attempt.log"
    setsid "$PY" -m mutmut run --paths-to-mutate "cevns_fit/$module.py" "${scope[@]}" \
      --runner "$runner" --test-time-multiplier 3 --no-progress --simple-output >"$log" 2>&1 &
    pid=$!
    crashed=0
    while kill -0 "$pid" 2>/dev/null; do
      sleep 5
      if grep -q "Traceback" "$log"; then crashed=1; fi
      if [ "$crashed" = 1 ] || [ "$SECONDS" -ge "$deadline" ]; then
        kill -- "-$pid" 2>/dev/null || true
        break
      fi
    done
    wait "$pid" 2>/dev/null || true
    # a stopped run can leave a mutant in place: restore the (tagged) module
    cp "$tag.py.tagged" "cevns_fit/$module.py"
    [ "$crashed" = 1 ] || break
    echo "   mutmut crashed (see $log), resuming" >&2
  done
done
"$PY" - "${MODULES[@]}" <<'PYEOF'
import sqlite3
import sys

db = sqlite3.connect(".mutmut-cache")
rows = db.execute(
    "SELECT SourceFile.filename, Mutant.status, COUNT(*) FROM Mutant"
    " JOIN Line ON Mutant.line = Line.id JOIN SourceFile ON Line.sourcefile = SourceFile.id"
    " GROUP BY SourceFile.filename, Mutant.status"
).fetchall()
print(f"{'module':<24}{'killed':>8}{'survived':>10}{'timeout':>9}{'unchecked':>11}{'score':>8}")
packages = {}
for module in sys.argv[1:]:
    counts = {s: n for f, s, n in rows if f.endswith(f"/{module}.py")}
    k, s = counts.get("ok_killed", 0), counts.get("bad_survived", 0)
    t = counts.get("bad_timeout", 0) + counts.get("ok_suspicious", 0)
    u = counts.get("untested", 0)
    score = f"{100 * k / (k + s + t):.0f} %" if k + s + t else "-"
    print(f"{module:<24}{k:>8}{s:>10}{t:>9}{u:>11}{score:>8}")
    if "/" in module:  # a package's modules also add up to one row
        total = packages.setdefault(module.split("/")[0], [0, 0, 0, 0, 0])
        for i, n in enumerate((k, s, t, u, 1)):
            total[i] += n
for package, (k, s, t, u, n_modules) in packages.items():
    if n_modules < 2:
        continue
    score = f"{100 * k / (k + s + t):.0f} %" if k + s + t else "-"
    print(f"{package + ' (all)':<24}{k:>8}{s:>10}{t:>9}{u:>11}{score:>8}")
PYEOF
