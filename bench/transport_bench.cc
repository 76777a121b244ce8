// Transport micro-benchmarks: the per-request CPU cost cairn adds on top of the network.
// Each figure is printed beside its floor, measured in the same run:
//   - SigV4 signing of a ListRecords request vs. the floor of the hashing it cannot avoid
//     (target: at most 2x);
//   - parsing a 1024-record ListRecords page into structs vs. RapidJSON's bare DOM parse of the
//     same bytes (target: at most 1.2x).
// Run: build-release/bin/transport_bench [--out FILE]
#include <benchmark/benchmark.h>
#include <rapidjson/document.h>

#include "bench/gbench_main.h"
#include "transport/crypto.h"
#include "transport/sigv4.h"
#include "transport/sync_protocol.h"

namespace {

using namespace cairn;
using namespace cairn::transport;

const AwsCredentials kCreds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN",
                            std::nullopt};

WireRequest list_records() {
  return sync_wire::build(wire::ListRecordsRequest{"us-east-1:23ec4050-6aea-7089-a2dd-08002e000000",
                                                   "us-east-1:0b4a7c6e-1111-2222-3333-444455556666",
                                                   "settings", 5, std::nullopt, 1024, "sst-token"});
}

void BM_SignListRecords(benchmark::State& state) {
  WireRequest wire = list_records();
  auto now = std::chrono::system_clock::now();
  for (auto _ : state) {
    SigV4Request req{wire.method, wire.path, wire.query, wire.headers, wire.body};
    req.headers.emplace_back("Host", "cognito-sync.us-east-1.amazonaws.com");
    Status s = sign_request(req, kCreds, {"us-east-1", "cognito-sync"}, now);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(req.headers);
  }
}
BENCHMARK(BM_SignListRecords);

// The floor: the cryptography every signature needs even with the derived key cached (hash the
// payload, hash the canonical request, one HMAC), with no string building at all.
void BM_SignFloorCryptoOnly(benchmark::State& state) {
  std::string canonical(420, 'x');  // about the size of a ListRecords canonical request
  std::string key = hmac_sha256("k", "d");
  for (auto _ : state) {
    benchmark::DoNotOptimize(sha256_hex(""));
    std::string sts = sha256_hex(canonical);
    benchmark::DoNotOptimize(hmac_sha256(key, sts));
  }
}
BENCHMARK(BM_SignFloorCryptoOnly);

std::string records_page(int n) {
  std::string body = R"({"Records":[)";
  for (int i = 0; i < n; ++i) {
    if (i) body += ",";
    body +=
        R"({"Key":"key-)" + std::to_string(i) + R"(","Value":"value-)" + std::to_string(i) +
        R"(-0123456789abcdef","SyncCount":)" + std::to_string(i + 1) +
        R"(,"LastModifiedDate":1.7E9,"LastModifiedBy":"us-east-1:0b4a7c6e-1111-2222-3333-444455556666",)"
        R"("DeviceLastModifiedDate":1700000000.123})";
  }
  body += R"(],"Count":)" + std::to_string(n) + R"(,"DatasetSyncCount":)" + std::to_string(n) +
          R"(,"DatasetExists":true,"SyncSessionToken":"sst"})";
  return body;
}

void BM_ParseListRecordsPage(benchmark::State& state) {
  std::string body = records_page(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    wire::ListRecordsResponse out;
    Status s = sync_wire::parse(body, &out);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseListRecordsPage)->Arg(1024);

void BM_ParseFloorRapidJsonDom(benchmark::State& state) {
  std::string body = records_page(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseFloorRapidJsonDom)->Arg(1024);

}  // namespace

int main(int argc, char** argv) {
  return cairn::bench::run_benchmarks(
      argc, argv, [](const cairn::bench::Timings& t, cairn::bench::Report& r) {
        auto against = [&](const char* name, const char* ours, const char* floor,
                           const char* floor_name, double target) {
          if (!t.count(ours) || !t.count(floor)) return;
          r.add(cairn::bench::cost_figure(name, t.at(ours) / 1e3, "us", floor_name,
                                          t.at(floor) / 1e3, target));
        };
        against("transport.sigv4_sign(ListRecords)", "BM_SignListRecords", "BM_SignFloorCryptoOnly",
                "the hashing a signature needs, nothing else", 2.0);
        against("transport.parse(ListRecords, 1024 records)", "BM_ParseListRecordsPage/1024",
                "BM_ParseFloorRapidJsonDom/1024", "RapidJSON's bare DOM parse of the same bytes",
                1.2);
      });
}
