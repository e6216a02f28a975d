#pragma once
// Everything a user of the differentiable API needs: tensors, creation, random draws,
// differentiable ops in moegrad::, gradients, the custom-op API and gradcheck.
#include "autograd/anomaly_mode.h"
#include "autograd/function.h"
#include "autograd/gradcheck.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/fused.h"
#include "autograd/ops/indexing.h"
#include "autograd/ops/joining.h"
#include "autograd/ops/linalg.h"
#include "autograd/ops/reduction.h"
#include "autograd/ops/views.h"
#include "autograd/tensor_grad.h"
#include "core/creation.h"
#include "core/generator.h"
#include "core/tensor.h"
