// The shared body of every typed call: validate, build, then either take a stubbed response or
// send through the ServiceClient, and parse.
#pragma once

#include <any>
#include <memory>

#include "cairn/cognito/client_config.h"
#include "cairn/testing/stub.h"
#include "transport/service_client.h"

namespace cairn::transport {

struct ClientCore {
  ClientConfig config;
  std::unique_ptr<ServiceClient> service;
};

Result<std::unique_ptr<ServiceClient>> make_service(ClientConfig& config,
                                                    const std::string& endpoint_prefix,
                                                    Protocol protocol);

template <typename Response, typename Request, typename Validate, typename Build, typename Parse>
Result<Response> call(ClientCore& core, const Request& request, Validate validate, Build build,
                      Parse parse) {
  if (core.config.validate_params) {
    Status s = validate(request);
    if (!s.ok()) return s;
  }
  WireRequest wire = build(request);
  std::string body;
  if (core.config.stub) {
    auto entry =
        core.config.stub->next({wire.operation, wire.method, wire.path, wire.query, wire.body});
    if (auto* error = std::get_if<Status>(&entry)) return *error;
    if (auto* typed = std::get_if<std::any>(&entry)) {
      if (auto* r = std::any_cast<Response>(typed)) return *r;
      return Status(ErrorCode::kInvalidArgument,
                    "stub mode: the response queued for " + wire.operation + " has the wrong type");
    }
    body = std::get<Stubber::RawBody>(entry).body;
  } else {
    auto http = core.service->invoke(wire);
    if (!http.ok()) return http.status();
    body = std::move(http->body);
  }
  Response response;
  Status s = parse(std::move(body), &response);
  if (!s.ok()) return s;
  return response;
}

inline ClientStats to_client_stats(const TransportStats& s) {
  return {s.requests, s.attempts, s.retries, s.failures};
}

}  // namespace cairn::transport
