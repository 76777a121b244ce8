# What `cmake --install` puts in the prefix: headers, libcairn (C API), libcairn-cpp (C++ API),
# the CMake package, pkg-config files, and the cairn and cairn-server binaries.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/cairn DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS cairn_c cairn_cpp EXPORT cairnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS cairn cairn-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(cairn_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/cairn)
install(EXPORT cairnTargets NAMESPACE cairn:: DESTINATION ${cairn_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cairnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cairnConfig.cmake INSTALL_DESTINATION ${cairn_cmake_dir})
# Semantic versioning: before 1.0 a minor release may break the API, so only the same minor
# version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cairnConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cairnConfig.cmake ${PROJECT_BINARY_DIR}/cairnConfigVersion.cmake
  DESTINATION ${cairn_cmake_dir})

# pkg-config: cairn (C) and cairn-cpp (C++). The prefix is the one configured at build time.
foreach(pc cairn cairn-cpp)
  if(pc STREQUAL "cairn")
    set(PC_NAME cairn)
    set(PC_DESCRIPTION "cairn offline-first sync engine, C API")
    set(PC_LIB cairn)
    set(PC_CFLAGS "")
  else()
    set(PC_NAME cairn-cpp)
    set(PC_DESCRIPTION "cairn offline-first sync engine, C++17 API")
    set(PC_LIB cairn-cpp)
    set(PC_CFLAGS " -std=c++17")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/cairn.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
