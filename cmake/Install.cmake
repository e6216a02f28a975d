# `cmake --install` (and `make install PREFIX=...`): the layers' headers under
# include/moegrad/, the static libraries, the moegrad binary, and the CMake package that
# `find_package(moegrad CONFIG REQUIRED)` reads, with its one target moegrad::moegrad.
include(CMakePackageConfigHelpers)

set(MOEGRAD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/moegrad)
foreach(layer IN LISTS MOEGRAD_LAYERS)
  install(DIRECTORY ${layer}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/moegrad/${layer} FILES_MATCHING PATTERN "*.h")
endforeach()
install(TARGETS moegrad_core moegrad_dist moegrad_autograd moegrad_nn moegrad_moe moegrad_train moegrad_lib
        EXPORT moegradTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS moegrad RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT moegradTargets NAMESPACE moegrad:: DESTINATION ${MOEGRAD_CMAKE_DIR})

# What the installed targets link and the package must find again for the user.
set(MOEGRAD_PACKAGE_WITH_CUDA ${MOEGRAD_CUDA})
if(MOEGRAD_CUDA_EMU)
  set(MOEGRAD_PACKAGE_WITH_CUDA OFF)
endif()
configure_package_config_file(cmake/moegradConfig.cmake.in ${PROJECT_BINARY_DIR}/moegradConfig.cmake
                              INSTALL_DESTINATION ${MOEGRAD_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/moegradConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/moegradConfig.cmake ${PROJECT_BINARY_DIR}/moegradConfigVersion.cmake
        DESTINATION ${MOEGRAD_CMAKE_DIR})
