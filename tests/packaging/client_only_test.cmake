# The client-only build, as a game that embeds libcairn configures it: no server, no samples, no
# tests, and the server's packages out of sight (Boost, prometheus-cpp, CLI11, and every pkg-config
# module, libpq and cpp-httplib among them). In one build directory, as a developer switches it:
#  - Shared (the default), configured in a clean directory: libcairn and libcairn-cpp build, and
#    neither may depend on any of those packages, nor link libcurl (it is loaded at the first
#    request).
#  - Then reconfigured with -DCAIRN_STATIC=ON: static archives (which link libcurl: the default
#    follows the switch), installed, then linked into the packaging consumer through the CMake
#    package and into a C program through pkg-config; the programs run, and depend on no
#    libcairn. The switch recompiles only what reads it, not the whole engine again.
# Called with -DSOURCE_DIR=... -DWORK_DIR=... -DCONSUMER_DIR=... -DJOBS=N
file(REMOVE_RECURSE ${WORK_DIR})
include(${CMAKE_CURRENT_LIST_DIR}/run.cmake)
file(MAKE_DIRECTORY ${WORK_DIR}/no-pkgconfig)
# configure(EXTRA_ARGS...): the client-only configure, the server's packages out of sight.
function(configure)
  run(${CMAKE_COMMAND} -E env PKG_CONFIG_LIBDIR=${WORK_DIR}/no-pkgconfig PKG_CONFIG_PATH=
    ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build
      -DCAIRN_BUILD_SERVER=OFF -DCAIRN_BUILD_SAMPLES=OFF -DCAIRN_BUILD_TESTS=OFF
      -DCAIRN_BUILD_BENCH=OFF
      # No optimisation: this checks what the build needs, not how fast it runs.
      -DCMAKE_BUILD_TYPE= -DCMAKE_C_FLAGS=-O0 -DCMAKE_CXX_FLAGS=-O0
      -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON
      -DCMAKE_DISABLE_FIND_PACKAGE_prometheus-cpp=ON
      -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON
      -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
      -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix
      ${ARGN})
endfunction()
# build(): the two libraries; leaves ninja's or make's output in last_output.
function(build)
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/build --target cairn_c cairn_cpp -j ${JOBS})
  set(last_output "${last_output}" PARENT_SCOPE)
endfunction()

configure()
message(STATUS "configured without the server's packages")
build()
find_program(READELF readelf REQUIRED)
foreach(absent cairn-server cairn cairn-demo)
  if(EXISTS ${WORK_DIR}/build/bin/${absent})
    message(FATAL_ERROR "the client-only build made ${absent}")
  endif()
endforeach()

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
  if(NOT needed MATCHES "libsqlite3")
    message(FATAL_ERROR "${lib} does not link SQLite: ${needed}")
  endif()
  # libcurl is loaded when the first request is sent (CAIRN_CURL_DLOPEN), not at start.
  if(needed MATCHES "libcurl")
    message(FATAL_ERROR "${lib} links libcurl, which it should load at the first request: ${needed}")
  endif()
endforeach()

# Static, in the same directory.
configure(-DCAIRN_STATIC=ON)
build()
message(STATUS "static, reconfigured: ${last_output}")
# Only transport/curl_api.cc (through its generated header) and the C API read the switch.
string(REGEX MATCHALL "Building (C|CXX) object" compiled "${last_output}")
list(LENGTH compiled recompiled)
if(recompiled GREATER 2)
  message(FATAL_ERROR "switching to static recompiled ${recompiled} files, not only the two that "
    "read the switch:\n${last_output}")
endif()
run(${CMAKE_COMMAND} --install ${WORK_DIR}/build)
foreach(f lib/libcairn.a lib/libcairn-cpp.a include/cairn/cairn.h lib/pkgconfig/cairn.pc)
  if(NOT EXISTS ${WORK_DIR}/prefix/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
# Through the CMake package: the C, C++ and no-exceptions consumers.
run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/consumer
  -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer -j ${JOBS})
set(programs ${WORK_DIR}/consumer/consumer_c ${WORK_DIR}/consumer/consumer_cpp
  ${WORK_DIR}/consumer/consumer_unreal)
# Through pkg-config, as a user types it: cc app.c $(pkg-config --cflags --libs cairn)
find_program(PKG_CONFIG pkg-config REQUIRED)
find_program(CC NAMES cc gcc REQUIRED)
run(${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${WORK_DIR}/prefix/lib/pkgconfig
  ${PKG_CONFIG} --cflags --libs cairn)
string(STRIP "${last_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${CC} ${CONSUMER_DIR}/main.c ${flags} -o ${WORK_DIR}/pkgconfig_c)
list(APPEND programs ${WORK_DIR}/pkgconfig_c)
foreach(program ${programs})
  run(${program})
  message(STATUS "${program}: ${last_output}")
  run(${READELF} -d ${program})
  if(last_output MATCHES "libcairn")
    message(FATAL_ERROR "${program} links a shared libcairn: ${last_output}")
  endif()
endforeach()
