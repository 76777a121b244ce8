// libcairn-cpp's own source. The library is its parts (engine, transport, localstore, conflict,
// common, sqlite) linked whole, as engine/CMakeLists.txt says; CMake asks a shared library for at
// least one source of its own, and this is it.
