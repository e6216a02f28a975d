#pragma once
// All experts of an MoE layer as one graph node, so that on several threads whole experts
// run side by side, one lane of experts per thread, in the forward and in the backward.
// Splitting each expert's small gemms over both cores left them waiting on each other and
// on the serial work between gemms; whole experts per core took the M step from 176 to
// 148 ms on 2 threads. Values and gradients are bit for bit those of running each Expert
// (Linear -> GEGLU -> Linear) on its own rows on one thread. (OpenBLAS's own results
// differ in the last bits between 1 and 2 threads, so grouping also makes the experts'
// results independent of the thread count.)
#include "moegrad/moe/expert.h"

namespace moegrad::moe {

// Whether grouped_experts_forward can stand in for the experts' own forward: every
// expert's kind declares a GEGLU layout (expert_kind.h) and its net holds one there, none
// has a prenorm, and there is more than one thread to spread them over.
bool can_group_experts(const Experts& experts);

// inputs[i] (rows_i, dim) through expert i; rows_i may be 0.
TensorList grouped_experts_forward(Experts& experts, const TensorList& inputs);

}  // namespace moegrad::moe
