#pragma once
// The one place that chooses between the real CUDA runtime + cuBLAS and the emulation
// (core/cuda/emu/), which compiles the same kernel sources with the C++ compiler and runs
// them on the CPU. Every file of core/cuda/ includes this instead of the CUDA headers.
#ifdef MOEGRAD_CUDA_EMU
#include "moegrad/core/cuda/emu/cuda_emu.h"
#else
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif
