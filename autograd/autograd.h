#pragma once
// Everything a user of the differentiable API needs: tensors, creation, random draws,
// differentiable ops in moegrad::, gradients, the custom-op API and gradcheck.
#include "moegrad/autograd/anomaly_mode.h"
#include "moegrad/autograd/function.h"
#include "moegrad/autograd/gradcheck.h"
#include "moegrad/autograd/grad_mode.h"
#include "moegrad/autograd/ops/collective.h"
#include "moegrad/autograd/ops/elementwise.h"
#include "moegrad/autograd/ops/fused.h"
#include "moegrad/autograd/ops/indexing.h"
#include "moegrad/autograd/ops/joining.h"
#include "moegrad/autograd/ops/linalg.h"
#include "moegrad/autograd/ops/reduction.h"
#include "moegrad/autograd/ops/views.h"
#include "moegrad/autograd/tensor_grad.h"
#include "moegrad/core/creation.h"
#include "moegrad/core/generator.h"
#include "moegrad/core/tensor.h"
