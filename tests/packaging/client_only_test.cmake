# The client-only build, as a game that embeds libcairn configures it: no server, no samples, no
# tests, and the server's packages out of sight (Boost, prometheus-cpp, CLI11, and every pkg-config
# module, libpq and cpp-httplib among them). It must configure, build libcairn and libcairn-cpp, and leave them
# depending on none of those. Called with -DSOURCE_DIR=... -DWORK_DIR=... -DJOBS=N
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
file(MAKE_DIRECTORY ${WORK_DIR}/no-pkgconfig)
run(${CMAKE_COMMAND} -E env PKG_CONFIG_LIBDIR=${WORK_DIR}/no-pkgconfig PKG_CONFIG_PATH=
  ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build
    -DCAIRN_BUILD_SERVER=OFF -DCAIRN_BUILD_SAMPLES=OFF -DCAIRN_BUILD_TESTS=OFF
    -DCAIRN_BUILD_BENCH=OFF
    # No optimisation: this checks what the build needs, not how fast it runs.
    -DCMAKE_BUILD_TYPE= -DCMAKE_C_FLAGS=-O0 -DCMAKE_CXX_FLAGS=-O0
    -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON
    -DCMAKE_DISABLE_FIND_PACKAGE_prometheus-cpp=ON
    -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON
    -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON)
message(STATUS "configured without the server's packages")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build --target cairn_c cairn_cpp -j ${JOBS})
find_program(READELF readelf REQUIRED)
foreach(lib libcairn.so libcairn-cpp.so)
  file(GLOB_RECURSE found ${WORK_DIR}/build/${lib})
  list(LENGTH found n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "the client-only build made no ${lib} (${found})")
  endif()
  run(${READELF} -d ${found})
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*" needed "${last_output}")
  message(STATUS "${lib}: ${needed}")
  foreach(server_only pq prometheus httplib boost CLI11)
    if(needed MATCHES "${server_only}")
      message(FATAL_ERROR "${lib} depends on ${server_only}: ${needed}")
    endif()
  endforeach()
  if(NOT needed MATCHES "libsqlite3" OR NOT needed MATCHES "libcurl")
    message(FATAL_ERROR "${lib} does not link SQLite and libcurl: ${needed}")
  endif()
endforeach()
foreach(absent cairn-server cairn cairn-demo)
  if(EXISTS ${WORK_DIR}/build/bin/${absent})
    message(FATAL_ERROR "the client-only build made ${absent}")
  endif()
endforeach()
