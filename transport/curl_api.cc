#include "transport/curl_api.h"

#include <string>

#include "curl_choice.h"  // generated: CAIRN_CURL_DLOPEN, 1 or 0 (transport/CMakeLists.txt)
#ifndef CAIRN_CURL_DLOPEN
#error "CAIRN_CURL_DLOPEN is not set: the build generates curl_choice.h"
#endif

#if CAIRN_CURL_DLOPEN
#include <dlfcn.h>
#endif

namespace cairn::transport {
namespace {

struct Loaded {
  CurlApi api{};
  Status status;
};

#if CAIRN_CURL_DLOPEN
// libcurl's SONAME: 4 since 2006, through every compatible release.
constexpr const char* kLibrary = "libcurl.so.4";

template <typename Fn>
bool resolve(void* lib, const char* name, Fn* out, Status* status) {
  *out = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!*out && status->ok()) {
    *status = Status(ErrorCode::kNetwork, std::string(kLibrary) + " has no " + name);
  }
  return *out != nullptr;
}

Loaded load() {
  Loaded l;
  // Never closed: handles and the global state live until the process ends.
  void* lib = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    l.status = Status(ErrorCode::kNetwork, std::string("libcurl could not be loaded (") +
                                               (why ? why : kLibrary) +
                                               "): cairn needs libcurl 7.85 or later to send "
                                               "requests (Debian: libcurl4)");
    return l;
  }
  CurlApi& a = l.api;
  CURLcode (*global_init)(long) = nullptr;
  resolve(lib, "curl_global_init", &global_init, &l.status);
  resolve(lib, "curl_easy_init", &a.easy_init, &l.status);
  resolve(lib, "curl_easy_cleanup", &a.easy_cleanup, &l.status);
  resolve(lib, "curl_easy_reset", &a.easy_reset, &l.status);
  resolve(lib, "curl_easy_setopt", &a.easy_setopt, &l.status);
  resolve(lib, "curl_easy_perform", &a.easy_perform, &l.status);
  resolve(lib, "curl_easy_getinfo", &a.easy_getinfo, &l.status);
  resolve(lib, "curl_easy_strerror", &a.easy_strerror, &l.status);
  resolve(lib, "curl_slist_append", &a.slist_append, &l.status);
  resolve(lib, "curl_slist_free_all", &a.slist_free_all, &l.status);
  if (l.status.ok()) global_init(CURL_GLOBAL_DEFAULT);
  return l;
}
#else
Loaded load() {
  Loaded l;
  // Parenthesised: curl.h may define type-checking macros of the same names.
  l.api = CurlApi{(curl_easy_init),     (curl_easy_cleanup), (curl_easy_reset),
                  (curl_easy_setopt),   (curl_easy_perform), (curl_easy_getinfo),
                  (curl_easy_strerror), (curl_slist_append), (curl_slist_free_all)};
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return l;
}
#endif

}  // namespace

Result<const CurlApi*> curl_api() {
  static const Loaded loaded = load();
  if (!loaded.status.ok()) return loaded.status;
  return &loaded.api;
}

}  // namespace cairn::transport
