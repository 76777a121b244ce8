// libFuzzer target: cairn-server's request path (routing, query parsing, SigV4 header parsing and
// verification, the JSON body of every operation, validation, storage) through Api::handle.
//
// Input: one byte of mode, then "METHOD TARGET\n", header lines "Name: value\n", a blank line and
// the body. Mode bit 0 set: the harness signs the request with the developer credentials first
// (Host and X-Amz-Date added), so the input reaches the operations; clear: it goes as given, to
// the signature checks. Whatever comes in, the answer must be a status the API uses, with an
// x-amzn-ErrorType on errors, and a JSON body.
#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/api.h"
#include "transport/sigv4.h"

namespace {

// Every outgoing call fails at once, as if the network were down.
class NoNetwork final : public cairn::HttpTransport {
 public:
  cairn::Result<cairn::HttpResponse> send(const cairn::HttpRequest&) override {
    return cairn::Status(cairn::ErrorCode::kNetwork, "the fuzzer has no network");
  }
};

constexpr char kAdminKey[] = "AKIDFUZZ";
constexpr char kAdminSecret[] = "fuzz-admin-secret";

cairn::server::Api& api() {
  static cairn::server::Api* instance = [] {
    char tmpl[] = "/tmp/cairn-fuzz-server-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    auto storage = cairn::server::open_storage("sqlite:" + dir + "/fuzz.db");
    if (!storage.ok()) std::abort();
    cairn::server::ServerOptions options;
    options.admin = {kAdminKey, kAdminSecret};
    // Inputs may configure hooks, sinks and polls: nothing leaves the process, nothing is written
    // outside the scratch directory, and no poll waits.
    options.events.data_dir = dir;
    options.events.transport = std::make_shared<NoNetwork>();
    options.events.max_poll_seconds = 0;
    auto created = cairn::server::Api::create(std::move(*storage), options);
    if (!created.ok()) std::abort();
    auto* a = created->release();
    (void)a->bootstrap_pool("fuzz");
    return a;
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  bool sign = data[0] & 1;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t line_end = text.find('\n');
  if (line_end == std::string::npos) return 0;
  std::string request_line = text.substr(0, line_end);
  size_t space = request_line.find(' ');
  if (space == std::string::npos) return 0;

  cairn::server::ServerRequest req;
  req.set_target(request_line.substr(0, space), request_line.substr(space + 1));
  size_t pos = line_end + 1;
  cairn::transport::SigV4Request sig;
  sig.method = req.method;
  sig.path = req.path;
  size_t q = req.target.find('?');
  sig.query = q == std::string::npos ? "" : req.target.substr(q + 1);
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    sig.headers.emplace_back(line.substr(0, colon), value);
  }
  std::string body = pos < text.size() ? text.substr(pos) : "";
  sig.body = body;  // a view: `body` outlives it
  if (sign) {
    sig.headers.emplace_back("Host", "fuzz.local");
    (void)cairn::transport::sign_request(
        sig, {kAdminKey, kAdminSecret, "", std::nullopt},
        {"us-east-1",
         req.target.rfind("/identitypools", 0) == 0 ? "cognito-sync" : "cognito-identity"},
        std::chrono::system_clock::now());
  }
  for (const auto& [name, value] : sig.headers) req.headers.emplace(name, value);
  req.body = body;

  cairn::server::ServerResponse res = api().handle(req);
  if (res.status < 200 || res.status > 599) std::abort();
  if (res.status >= 300 && !res.has_header("x-amzn-ErrorType")) std::abort();
  rapidjson::Document doc;
  doc.Parse(res.body.c_str());
  if (doc.HasParseError()) std::abort();  // every answer is JSON
  return 0;
}
