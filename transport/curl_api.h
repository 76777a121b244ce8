// libcurl's entry points, as one table. By default (CAIRN_CURL_DLOPEN, on for shared builds on
// Linux) the table is loaded with dlopen the first time a request is sent: libcurl brings about
// thirty libraries of its own (GnuTLS, Kerberos, LDAP, ...), and mapping and relocating them costs
// a process more than everything else it does to write a record offline. A static build, or one
// configured with CAIRN_CURL_DLOPEN=OFF, links libcurl and fills the table from it.
#pragma once

#include <curl/curl.h>

#include "cairn/status.h"

namespace cairn::transport {

struct CurlApi {
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

// libcurl, loaded and globally initialised once (thread-safe). When it cannot be loaded, a
// kNetwork error names the library and what the loader said, on every call.
Result<const CurlApi*> curl_api();

}  // namespace cairn::transport
