#pragma once
// A dense model for the clusters task: in_proj, then `depth` gated residual blocks
// x + sigmoid(g) * W2 relu(W1 x) with a learned gate g per block (starting at
// model.gate_init), then RMSNorm and a head. Its keys under model: are `hidden` and
// `gate_init`, declared with the kind.
#include "moegrad/train/model_kind.h"

namespace custom {

moegrad::train::ModelKindSpec gated_mlp_kind();

}  // namespace custom
