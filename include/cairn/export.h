// CAIRN_CPP_API marks what libcairn-cpp exports: the classes and functions of the public C++
// headers. The library is compiled with hidden visibility, so nothing else leaves it, and its
// internals can change without breaking a game that links it.
//
// A static build (CAIRN_STATIC, or a game that compiles cairn's sources itself) defines
// CAIRN_STATIC_DEFINE, and the macro is empty. On Windows a shared build exports with
// __declspec(dllexport) while cairn itself compiles (CAIRN_BUILDING_LIBRARY) and imports otherwise.
#pragma once

#if defined(CAIRN_STATIC_DEFINE)
#define CAIRN_CPP_API
#elif defined(_WIN32)
#if defined(CAIRN_BUILDING_LIBRARY)
#define CAIRN_CPP_API __declspec(dllexport)
#else
#define CAIRN_CPP_API __declspec(dllimport)
#endif
#else
#define CAIRN_CPP_API [[gnu::visibility("default")]]
#endif
