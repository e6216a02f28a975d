#!/bin/bash
# ctest plot_metrics_draws_demand: tools/plot_metrics.py on a short toy run draws the
# demand beside the kept tokens (no note about missing demand), and on metrics written before
# moegrad logged the demand still draws the kept tokens, with that note. Exit 77 (ctest:
# Not Run) where /usr/bin/python3 (or MOEGRAD_PLOT_PYTHON) lacks matplotlib.
set -euo pipefail
moegrad=$1
source_dir=$2
python=${MOEGRAD_PLOT_PYTHON:-/usr/bin/python3}
if ! "$python" -c 'import matplotlib, numpy' 2>/dev/null; then
  echo "not run: $python cannot import matplotlib (Debian: apt-get install -y python3-matplotlib)"
  exit 77
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$moegrad" train "$source_dir/configs/toy_moe.yaml" --out "$scratch/run" --set train.steps=40 \
  --set train.log_interval=5 --set optim.schedule.warmup_steps=5 >/dev/null
grep -q '"demand_per_expert"' "$scratch/run/metrics.jsonl"
"$python" "$source_dir/tools/plot_metrics.py" "$scratch/run" --out "$scratch/new" 2>"$scratch/new.err"
test -s "$scratch/new/experts.png" && test -s "$scratch/new/loss.png"
if grep -q "no demand_per_expert" "$scratch/new.err"; then
  echo "FAIL: the run's metrics have demand_per_expert, yet the tool says they do not"; exit 1
fi

# The same run as an older moegrad wrote it: the per-layer keys it did not have removed.
mkdir "$scratch/old"
"$python" - "$scratch/run/metrics.jsonl" "$scratch/old/metrics.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as g:
    for line in f:
        r = json.loads(line)
        r["layers"] = [{k: l[k] for k in ("tokens_per_expert", "dropped_fraction", "routing_entropy")}
                       for l in r.get("layers", [])]
        g.write(json.dumps(r) + "\n")
PY
"$python" "$source_dir/tools/plot_metrics.py" "$scratch/old" 2>"$scratch/old.err"
test -s "$scratch/old/experts.png"
grep -q "no demand_per_expert" "$scratch/old.err"
echo "plot_metrics.py: demand and kept heatmaps drawn; older metrics plotted with a note"
