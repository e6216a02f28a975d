# The CUDA backend (core/cuda/), added to moegrad_core: included right after that target,
# before the fuzz build returns, so every configuration links one of its three forms.
# MOEGRAD_CUDA: compile the backend with nvcc (ON when nvcc is found); the binaries then run
# with or without a GPU, and cuda_device_available() says which. MOEGRAD_CUDA_EMU: compile
# the same kernel sources with the C++ compiler against core/cuda/emu/ and run them on the
# CPU, so the conformance suite runs without a GPU (its figures are emulated ones). With
# neither, core/cuda/unavailable.cpp reports "not built with CUDA".
option(MOEGRAD_CUDA_EMU "build the CUDA backend as a CPU emulation (testing without a GPU)" OFF)
set(MOEGRAD_CUDA_DEFAULT OFF)  # and OFF for the fuzz build (clang, no nvcc host setup)
if(NOT MOEGRAD_CUDA_EMU AND NOT MOEGRAD_FUZZ)
  if(NOT CMAKE_CUDA_COMPILER)
    find_program(MOEGRAD_NVCC nvcc HINTS /usr/local/cuda/bin)
    if(MOEGRAD_NVCC)
      set(CMAKE_CUDA_COMPILER ${MOEGRAD_NVCC})
    endif()
  endif()
  if(CMAKE_CUDA_COMPILER)
    set(MOEGRAD_CUDA_DEFAULT ON)
  endif()
endif()
option(MOEGRAD_CUDA "build the CUDA backend with nvcc" ${MOEGRAD_CUDA_DEFAULT})

file(GLOB CUDA_KERNEL_SOURCES CONFIGURE_DEPENDS core/cuda/*.cu)
file(GLOB CUDA_HOST_SOURCES CONFIGURE_DEPENDS core/cuda/*.cpp)
list(REMOVE_ITEM CUDA_HOST_SOURCES ${PROJECT_SOURCE_DIR}/core/cuda/unavailable.cpp)

if(MOEGRAD_CUDA_EMU)
  # The .cu files are C++ here; they see cuda_emu.h instead of the CUDA headers, and the
  # build's own flags (-ffp-contract=off, -march=...), exactly as the CPU kernels do.
  set_source_files_properties(${CUDA_KERNEL_SOURCES} PROPERTIES LANGUAGE CXX COMPILE_OPTIONS "-x;c++")
  target_sources(moegrad_core PRIVATE ${CUDA_KERNEL_SOURCES} ${CUDA_HOST_SOURCES} core/cuda/emu/runtime.cpp core/cuda/emu/cooperative.cpp)
  target_compile_definitions(moegrad_core PUBLIC MOEGRAD_CUDA_EMU=1)
elseif(MOEGRAD_CUDA)
  # sm_90 code plus compute_90 PTX; never "native", which fails on machines without a GPU.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  # nvcc through ccache too (ccache 4 knows nvcc), so a clean clone's rebuild is cheap.
  if(CCACHE_PROGRAM)
    set(CMAKE_CUDA_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  # CMake 3.25 knows no C++20 dialect flag for nvcc (nvcc has had -std=c++20 since 12.0).
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  add_library(moegrad_cuda OBJECT ${CUDA_KERNEL_SOURCES} ${CUDA_HOST_SOURCES})
  set_target_properties(moegrad_cuda PROPERTIES CUDA_STANDARD 20 CUDA_STANDARD_REQUIRED ON)
  target_compile_features(moegrad_cuda PRIVATE cxx_std_20)
  # MOEGRAD_COMPILE_OPTIONS are g++ options; nvcc gets them for C++ sources only.
  set(MOEGRAD_CUDA_TARGET_OPTIONS "")
  foreach(opt IN LISTS MOEGRAD_COMPILE_OPTIONS)
    list(APPEND MOEGRAD_CUDA_TARGET_OPTIONS "$<$<COMPILE_LANGUAGE:CXX>:${opt}>")
  endforeach()
  # --fmad=false: no contraction into FMAs, as the CPU's -ffp-contract=off; IEEE division
  # and square root (nvcc's default without --use_fast_math).
  list(APPEND MOEGRAD_CUDA_TARGET_OPTIONS
       "$<$<COMPILE_LANGUAGE:CUDA>:--fmad=false;--expt-relaxed-constexpr;-Werror=all-warnings;-Xcompiler=-Wall,-Wextra,-ffp-contract=off>")
  set_property(TARGET moegrad_cuda PROPERTY COMPILE_OPTIONS ${MOEGRAD_CUDA_TARGET_OPTIONS})
  target_include_directories(moegrad_cuda PRIVATE ${PROJECT_BINARY_DIR}/include)
  # A portable build (cmake/Portable.cmake) takes the static CUDA runtime; cuBLAS stays a
  # shared library, the device machine's own.
  set(MOEGRAD_CUDART CUDA::cudart)
  if(MOEGRAD_PORTABLE)
    set(MOEGRAD_CUDART CUDA::cudart_static)
  endif()
  target_link_libraries(moegrad_cuda PRIVATE ${MOEGRAD_FMT} ${MOEGRAD_CUDART} CUDA::cublas)
  target_sources(moegrad_core PRIVATE $<TARGET_OBJECTS:moegrad_cuda>)
  target_link_libraries(moegrad_core PUBLIC ${MOEGRAD_CUDART} CUDA::cublas)
else()
  target_sources(moegrad_core PRIVATE core/cuda/unavailable.cpp)
endif()

