#!/usr/bin/env bash
# Run a benchmark script of THIS checkout against the code of an earlier COMMIT, so that
# "before" and "after" come from the same script.
#
#   bench/at_commit.sh COMMIT SCRIPT [ARGS...] > OUT.txt
#
# The commit is checked out in a worktree and installed in a virtual environment of its
# own (its package layout may differ from this one); SCRIPT is copied out of this
# checkout and run from a folder outside both trees, so that neither shadows the other.
# A script that finds data beside the checkout needs its path given (e.g. --kcs DIR).
# Used for bench/out/backtest-kcs-at-*.txt (SCRIPT: the commit's own bench/backtest.py,
# given as "@bench/backtest.py") and bench/out/reasons_mechanism-at-6909e6a.txt.
set -euo pipefail
commit=$1; script=$2; shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'git -C "$here" worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$here" worktree add --quiet --detach "$work/tree" "$commit"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet -e "$work/tree[bench]" >&2 \
    || "$work/venv/bin/pip" install --quiet -e "$work/tree" xgboost lightgbm >&2
if [[ $script == @* ]]; then
    cp "$work/tree/${script#@}" "$work/script.py"   # the commit's own copy of the script
else
    cp "$here/$script" "$work/script.py"
fi
cd "$work" && "$work/venv/bin/python" script.py "$@"
