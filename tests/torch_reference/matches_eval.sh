#!/bin/bash
# ctest torch_reference_matches_eval: trains small mlp_moe and mlp_dense runs, exports their
# weights, and has tools/torch_reference.py's PyTorch model reproduce moegrad's eval of the
# first held-out batch from the exported state dict alone. Exit 77 (ctest: Not Run) where
# the Python given (MOEGRAD_TORCH_PYTHON, default Debian's /usr/bin/python3) lacks torch.
set -euo pipefail
moegrad=$1
source_dir=$2
python=${MOEGRAD_TORCH_PYTHON:-/usr/bin/python3}
if ! "$python" -c 'import torch, yaml' 2>/dev/null; then
  echo "not run: $python cannot import torch and yaml (Debian: apt-get install python3-torch python3-yaml)"
  exit 77
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# name, config, then --set overrides; each a few steps, so that the weights are no longer
# their initialisation.
check() {
  local name=$1 config=$2
  shift 2
  local sets=(--set train.steps=30 --set train.eval_interval=30 --set train.checkpoint_interval=30
              --set optim.schedule.kind=constant)
  for s in "$@"; do sets+=(--set "$s"); done
  "$moegrad" train "$source_dir/configs/$config" --out "$scratch/$name" "${sets[@]}" >/dev/null
  "$moegrad" export "$scratch/$name/checkpoints/step_00000030.safetensors" --out "$scratch/$name.weights.safetensors" \
    >/dev/null
  "$moegrad" eval --weights "$scratch/$name.weights.safetensors" --dump "$scratch/$name.dump.safetensors" >/dev/null
  echo "== $name: $*"
  "$python" "$source_dir/tools/torch_reference.py" "$scratch/$name.weights.safetensors" "$scratch/$name.dump.safetensors"
}

check geglu toy_moe.yaml
check swiglu toy_moe.yaml model.expert_kind=swiglu
check mlp toy_moe.yaml model.expert_kind=mlp model.add_ff_before=true
check top3 toy_moe.yaml model.top_n=3 "model.threshold_eval=[0.1,0.3]" model.capacity_factor_eval=0.5
check dense dense_baseline.yaml

# A weight moved is seen: the check can fail.
"$python" - "$scratch/geglu.weights.safetensors" "$scratch/moved.safetensors" <<'PY'
import json, struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
start = header["head.weight"]["data_offsets"][0] + 8 + n
value = struct.unpack("<f", data[start:start + 4])[0]
data[start:start + 4] = struct.pack("<f", value + 0.5)
open(sys.argv[2], "wb").write(data)
PY
if "$python" "$source_dir/tools/torch_reference.py" "$scratch/moved.safetensors" "$scratch/geglu.dump.safetensors"; then
  echo "FAIL: a moved weight was not noticed"
  exit 1
fi
echo "a moved weight is noticed: ok"
