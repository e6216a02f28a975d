#!/usr/bin/env bash
# `moegrad train` as an mpirun job of 2 ranks against one process, on the toy config:
#  1. 2 ranks with parallel.expert=2 end at the single-process loss, and the checkpoint
#     they wrote evaluates in one process as the single-process one does;
#  2. a checkpoint saved at 2 ranks resumes in 1 process, and one saved in 1 process
#     resumes at 2 ranks, both ending at the straight run's loss;
#  3. at the same layout a resumed run ends bit-exact: its last checkpoint is byte for
#     byte the straight run's;
#  4. two 2-rank runs write byte-identical checkpoints and metrics (the timing field aside);
#  5. a run that diverges stops every rank with exit status 3 (the job's status too).
# Usage: train_layouts.sh MPIRUN MOEGRAD CONFIG; an empty MPIRUN: Not Run (77).
set -uo pipefail
mpirun=$1 moegrad=$2 config=$3
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$mpirun" ]; then echo "moegrad was built without MPI: distributed test not run"; exit 77; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
two() { bash "$here/run_ranks.sh" "$mpirun" "$moegrad" "$@"; }
short=(--set optim.schedule.kind=constant --set train.steps=8 --set train.checkpoint_interval=4 --set train.eval_interval=4 --set train.log_interval=2)
ckpt=checkpoints/step_00000008.safetensors
# The last train record's loss, and a metrics file without its timings.
loss_of() { grep '"kind":"train"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"loss":\([^,]*\),.*/\1/'; }
untimed() { sed 's/"tokens_per_s":[^,}]*//' "$1/metrics.jsonl"; }
close() { awk -v a="$1" -v b="$2" -v tol="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; s = b < 0 ? -b : b; exit !(d <= tol * s) }'; }

"$moegrad" train "$config" "${short[@]}" --out one >/dev/null || fail "the single-process run failed"
two train "$config" "${short[@]}" --set parallel.expert=2 --out ep >/dev/null || fail "the 2-rank run failed"
echo "final train loss: 1 process $(loss_of one), 2 ranks with parallel.expert=2 $(loss_of ep)"
close "$(loss_of ep)" "$(loss_of one)" 1e-5 || fail "the 2-rank loss is not the single-process loss"
e1=$("$moegrad" eval --checkpoint "one/$ckpt" | sed 's/.*"loss":\([^,]*\),.*/\1/')
e2=$("$moegrad" eval --checkpoint "ep/$ckpt" | sed 's/.*"loss":\([^,]*\),.*/\1/')
echo "eval loss in one process: of the 1-process checkpoint $e1, of the 2-rank checkpoint $e2"
close "$e2" "$e1" 1e-5 || fail "the 2-rank checkpoint does not evaluate as the single-process one"

# 2 ranks to step 4, then 1 process to 8; and the reverse.
half=(--set optim.schedule.kind=constant --set train.checkpoint_interval=4 --set train.eval_interval=4 --set train.log_interval=2)
two train "$config" "${half[@]}" --set train.steps=4 --set parallel.expert=2 --out to_one >/dev/null || fail "2-rank half run"
"$moegrad" train "$config" "${half[@]}" --set train.steps=8 --resume to_one >/dev/null || fail "resuming a 2-rank checkpoint in 1 process"
"$moegrad" train "$config" "${half[@]}" --set train.steps=4 --out to_two >/dev/null || fail "1-process half run"
two train "$config" "${half[@]}" --set train.steps=8 --set parallel.expert=2 --resume to_two >/dev/null ||
  fail "resuming a 1-process checkpoint at 2 ranks"
echo "resumed to step 8: 2 ranks -> 1 process $(loss_of to_one), 1 process -> 2 ranks $(loss_of to_two)"
close "$(loss_of to_one)" "$(loss_of one)" 1e-5 || fail "2 -> 1 did not continue the run"
close "$(loss_of to_two)" "$(loss_of one)" 1e-5 || fail "1 -> 2 did not continue the run"

# The same layout: 2 ranks to step 4 and on to 8 equals 2 ranks straight to 8, bit for bit,
# data parallel alone and with the experts spread.
two train "$config" "${short[@]}" --out dp >/dev/null || fail "2-rank data-parallel run"
for layout in "dp 1" "ep 2"; do
  set -- $layout
  two train "$config" "${half[@]}" --set train.steps=4 --set parallel.expert=$2 --out "again_$1" >/dev/null || fail "2-rank half run"
  two train "$config" "${half[@]}" --set train.steps=8 --set parallel.expert=$2 --resume "again_$1" >/dev/null || fail "2-rank resume"
  cmp "again_$1/$ckpt" "$1/$ckpt" || fail "a resumed 2-rank run (parallel.expert=$2) is not bit-exact"
done
echo "2 ranks resumed at step 4 (parallel.expert 1 and 2): the step-8 checkpoints are byte-identical to the straight runs'"

two train "$config" "${short[@]}" --set parallel.expert=2 --out ep2 >/dev/null || fail "the second 2-rank run failed"
for f in ep/checkpoints/*; do cmp "$f" "ep2/checkpoints/$(basename "$f")" || fail "two 2-rank runs differ in $f"; done
[ "$(untimed ep)" = "$(untimed ep2)" ] || fail "two 2-rank runs wrote different metrics"
echo "two 2-rank runs: byte-identical checkpoints and metrics"

two train "$config" "${short[@]}" --set parallel.expert=2 --set optim.lr=1e30 --set optim.clip_norm=0 --out nan >/dev/null 2>&1
rc=$?
[ "$rc" -eq 3 ] || fail "a diverging 2-rank run ended with exit status $rc, not 3"
echo "a diverging 2-rank run: exit status 3"
echo OK
