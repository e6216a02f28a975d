# MOEGRAD_PORTABLE: binaries for a machine that has glibc and a CUDA toolkit but none of the
# Debian -dev packages (the GPU check, scripts/gpu-bundle.sh). OpenBLAS with libgfortran and
# libquadmath, yaml-cpp, libstdc++ and libgcc are linked statically, fmt is header-only
# (Debian ships no libfmt.a) and cmake/CudaBackend.cmake takes the static CUDA runtime; what
# stays dynamic is glibc and cuBLAS, found on that machine. Included from CMakeLists.txt
# after the packages are found and before the first target.

# The device machine's CPU is not this one: x86-64-v3 (AVX2, FMA, BMI2), which every x86
# server CPU of the H100/H200 generation has. -ffp-contract=off still holds, so results are
# bit-identical to a native build.
list(APPEND MOEGRAD_COMPILE_OPTIONS -march=x86-64-v3)
add_link_options(-static-libstdc++ -static-libgcc)

function(moegrad_static_library var name)
  find_library(${var} NAMES ${name} PATH_SUFFIXES openblas-pthread)
  if(NOT ${var})
    message(FATAL_ERROR "MOEGRAD_PORTABLE: ${name} not found (scripts/install-deps.sh installs it)")
  endif()
endfunction()

# libgfortran.a and libquadmath.a live in the compiler's own directory.
function(moegrad_compiler_library var name)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=${name} OUTPUT_VARIABLE path
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT IS_ABSOLUTE "${path}" OR NOT EXISTS "${path}")
    message(FATAL_ERROR "MOEGRAD_PORTABLE: ${CMAKE_CXX_COMPILER} has no ${name} (Debian: libgfortran-12-dev)")
  endif()
  set(${var} ${path} PARENT_SCOPE)
endfunction()

moegrad_static_library(MOEGRAD_OPENBLAS_STATIC libopenblas.a)
moegrad_compiler_library(MOEGRAD_GFORTRAN_STATIC libgfortran.a)
moegrad_compiler_library(MOEGRAD_QUADMATH_STATIC libquadmath.a)
find_package(Threads REQUIRED)
set(BLAS_LIBRARIES ${MOEGRAD_OPENBLAS_STATIC} ${MOEGRAD_GFORTRAN_STATIC} ${MOEGRAD_QUADMATH_STATIC}
                   Threads::Threads m)

moegrad_static_library(MOEGRAD_YAML_CPP_STATIC libyaml-cpp.a)
add_library(moegrad_yaml_cpp_static STATIC IMPORTED)
set_target_properties(moegrad_yaml_cpp_static PROPERTIES IMPORTED_LOCATION ${MOEGRAD_YAML_CPP_STATIC})
get_target_property(yaml_cpp_includes yaml-cpp INTERFACE_INCLUDE_DIRECTORIES)
if(yaml_cpp_includes)
  set_target_properties(moegrad_yaml_cpp_static PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${yaml_cpp_includes}")
endif()
set(MOEGRAD_YAML_CPP moegrad_yaml_cpp_static)

set(MOEGRAD_FMT fmt::fmt-header-only)
# Compiled into each executable that travels: a definition in an archive would come too late
# for libstdc++.a, which the link searches last.
set(MOEGRAD_PORTABLE_SOURCES ${PROJECT_SOURCE_DIR}/cmake/portable_glibc.cpp)
message(STATUS "MOEGRAD_PORTABLE: static ${MOEGRAD_OPENBLAS_STATIC}, ${MOEGRAD_YAML_CPP_STATIC}; fmt header-only")
