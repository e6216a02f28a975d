#pragma once
// All experts of an MoE layer as one graph node, so that on several threads whole experts
// run side by side, one per thread, in the forward and in the backward. OpenBLAS splits a
// single gemm over two cores at about 85% of their combined rate on these shapes; two
// experts' gemms on one core each run at the full rate. Values and gradients are those of
// running each Expert (Linear -> GEGLU -> Linear) on its own rows, bit for bit.
#include "moe/expert.h"

namespace moegrad::moe {

// Whether grouped_experts_forward can stand in for the experts' own forward: none has a
// prenorm, and there is more than one thread to spread them over.
bool can_group_experts(const Experts& experts);

// inputs[i] (rows_i, dim) through expert i; rows_i may be 0.
TensorList grouped_experts_forward(Experts& experts, const TensorList& inputs);

}  // namespace moegrad::moe
