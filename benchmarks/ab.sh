#!/bin/bash
# A/B of two source trees on one benchmark data set: the whole CLI, alternating A and B each round,
# so that the machine's load falls on both alike. Prints each run's wall seconds and stage timings.
#
#   git archive HEAD src | tar -x -C /tmp/a      # the tree before the change
#   bash benchmarks/ab.sh default 4 /tmp/a/src src
#
# Usage: ab.sh DATASET ROUNDS SRC_A SRC_B   (DATASET: a folder of benchmarks/out made by
# `python benchmarks/bench_pycaret.py prepare` and `... mlsmith DATASET`, which writes its problem.yaml)
set -euo pipefail
ds=$1; n=$2; A=$(realpath "$3"); B=$(realpath "$4")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/out/$ds"
for i in $(seq "$n"); do
  for v in A B; do
    src=${!v}; runs=$(mktemp -d)
    s=$(date +%s.%N)
    PYTHONPATH=$src python -m mlsmith run problem.yaml --runs-dir "$runs" >/dev/null 2>&1 || echo "$v failed"
    e=$(date +%s.%N)
    t=$(python -c "
import json, glob
r = json.load(open(glob.glob('$runs/2*')[0] + '/results.json'))['timings_s']
print(' '.join(f'{k[:5]}={v:.2f}' for k, v in r.items()))")
    printf "%s %s %.2f  %s\n" "$i" "$v" "$(echo "$e - $s" | bc)" "$t"
    rm -rf "$runs"
  done
done
