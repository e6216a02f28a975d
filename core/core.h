#pragma once
// Everything core/ offers: tensors, creation, random draws, and the raw (gradient-free)
// ops in moegrad::core.
#include "moegrad/core/backend.h"
#include "moegrad/core/creation.h"
#include "moegrad/core/elementwise.h"
#include "moegrad/core/generator.h"
#include "moegrad/core/indexing.h"
#include "moegrad/core/joining.h"
#include "moegrad/core/linalg.h"
#include "moegrad/core/reduction.h"
#include "moegrad/core/tensor.h"
#include "moegrad/core/views.h"
#include "moegrad/core/fused.h"
