#pragma once
// Everything core/ offers: tensors, creation, random draws, and the raw (gradient-free)
// ops in moegrad::core.
#include "core/backend.h"
#include "core/creation.h"
#include "core/elementwise.h"
#include "core/generator.h"
#include "core/indexing.h"
#include "core/joining.h"
#include "core/linalg.h"
#include "core/reduction.h"
#include "core/tensor.h"
#include "core/views.h"
#include "core/fused.h"
