// libFuzzer target: the client's parsing of every answer it can get: the 17 Cognito Sync and 14
// Cognito Identity response bodies, and error answers of both protocols (status, headers, body).
// Input: one byte choosing the parser, then the body. A parse may fail, never crash.
#include <cstdint>
#include <string>

#include "transport/errors.h"
#include "transport/identity_protocol.h"
#include "transport/sync_protocol.h"

namespace {

using Parser = void (*)(std::string_view);

#define CAIRN_SYNC_PARSER(Op)                                        \
  [](std::string_view body) {                                        \
    cairn::wire::Op##Response r;                                     \
    (void)cairn::transport::sync_wire::parse(std::string(body), &r); \
  },
#define CAIRN_IDENTITY_PARSER(Op)                                        \
  [](std::string_view body) {                                            \
    cairn::identity::Op##Response r;                                     \
    (void)cairn::transport::identity_wire::parse(std::string(body), &r); \
  },

const Parser kParsers[] = {CAIRN_SYNC_OPERATIONS(CAIRN_SYNC_PARSER)
                               CAIRN_IDENTITY_OPERATIONS(CAIRN_IDENTITY_PARSER)};
constexpr size_t kParserCount = sizeof kParsers / sizeof kParsers[0];

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t choice = data[0] % (kParserCount + 2);
  if (choice < kParserCount) {
    kParsers[choice](body);
    return 0;
  }
  // An error answer: the first body line, if it has a colon, is an x-amzn-ErrorType header.
  cairn::HttpResponse response;
  response.status = 400 + (data[0] % 2) * 100;
  size_t nl = body.find('\n');
  if (nl != std::string::npos && body.substr(0, nl).find(':') != std::string::npos) {
    response.headers.emplace_back("x-amzn-ErrorType", body.substr(0, nl));
    body.erase(0, nl + 1);
  }
  response.body = body;
  (void)cairn::transport::parse_error_response(choice == kParserCount
                                                   ? cairn::transport::Protocol::kRestJson
                                                   : cairn::transport::Protocol::kAwsJson,
                                               response);
  return 0;
}
