# What `cmake --install` puts in the prefix: headers, libcairn (C API), libcairn-cpp (C++ API),
# the CMake package, pkg-config files, and the cairn and cairn-server binaries.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/cairn DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/cairn/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cairn)
install(TARGETS cairn_c cairn_cpp EXPORT cairnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(CAIRN_BUILD_SAMPLES)
  install(TARGETS cairn RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
if(CAIRN_BUILD_SERVER)
  install(TARGETS cairn-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

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

# pkg-config: cairn (C) and cairn-cpp (C++). The prefix is found from the .pc file's own place
# (${pcfiledir}), so an installed tree works wherever it is put, whatever prefix it was built for.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  # Directories outside the prefix: no relative way there, so they are named as configured.
  set(PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH pc_up "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
  set(PC_PREFIX "\${pcfiledir}/${pc_up}")
  set(PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# Static archives need their dependencies named too (libcairn's C users also the C++ runtime).
set(PC_DEPS "")
if(CAIRN_STATIC)
  set(PC_DEPS " -lcurl -lssl -lcrypto -lsqlite3 -lpthread")
endif()
foreach(pc cairn cairn-cpp)
  if(pc STREQUAL "cairn")
    set(PC_NAME cairn)
    set(PC_DESCRIPTION "cairn offline-first sync engine, C API")
    set(PC_LIB cairn)
    set(PC_CFLAGS "")
    set(PC_LIBS_EXTRA "${PC_DEPS}")
    if(CAIRN_STATIC)
      string(APPEND PC_LIBS_EXTRA " -lstdc++ -lm")
    endif()
  else()
    set(PC_NAME cairn-cpp)
    set(PC_DESCRIPTION "cairn offline-first sync engine, C++17 API")
    set(PC_LIB cairn-cpp)
    set(PC_CFLAGS " -std=c++17")
    if(CAIRN_STATIC)
      string(APPEND PC_CFLAGS " -DCAIRN_STATIC_DEFINE")
    endif()
    set(PC_LIBS_EXTRA "${PC_DEPS}")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/cairn.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
