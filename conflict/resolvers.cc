// The built-in conflict resolvers (docs/conflict.md has the rules in prose).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cairn/conflict.h"

namespace cairn {
namespace {

using Value = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// Last writer wins on one clock: the local write time moved onto the server's clock by the skew
// the transport measured. A tie goes to the server's version, which is already everywhere else.
bool local_is_newer(const Conflict& c, const ResolveContext& ctx) {
  return c.local_modified + ctx.clock_skew > c.remote_modified;
}

std::optional<rapidjson::Document> parse_object(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  return d;
}

const Value* member(const Value* object, const Value& name) {
  if (!object || !object->IsObject()) return nullptr;
  auto it = object->FindMember(name);
  return it == object->MemberEnd() ? nullptr : &it->value;
}

bool same(const Value* a, const Value* b) {
  if (!a || !b) return a == b;
  return *a == *b;
}

// Merges one value. Returns false when both sides changed it differently and there is no
// preference; `present` says whether the merged field exists at all.
bool merge_value(const Value* base, const Value* local, const Value* remote,
                 const std::optional<bool>& prefer_local, Allocator& alloc, Value* out,
                 bool* present) {
  const Value* pick = nullptr;
  // Two branches pick the local side, for different reasons, and the order of the tests matters.
  if (same(local, remote)) {  // NOLINT(bugprone-branch-clone)
    pick = local;
  } else if (same(local, base)) {
    pick = remote;  // changed (or removed) on the server only
  } else if (same(remote, base)) {
    pick = local;  // changed (or removed) here only
  } else if (local && remote && local->IsObject() && remote->IsObject() &&
             (!base || base->IsObject())) {
    // Both changed the same object: merge it field by field, local's order first.
    out->SetObject();
    auto add = [&](const Value& name) -> bool {
      if (out->HasMember(name)) return true;
      Value merged;
      bool field_present = false;
      if (!merge_value(member(base, name), member(local, name), member(remote, name), prefer_local,
                       alloc, &merged, &field_present)) {
        return false;
      }
      if (field_present) out->AddMember(Value(name, alloc), merged, alloc);
      return true;
    };
    for (const auto& m : local->GetObject()) {
      if (!add(m.name)) return false;
    }
    for (const auto& m : remote->GetObject()) {
      if (!add(m.name)) return false;
    }
    *present = true;
    return true;
  } else if (prefer_local) {
    pick = *prefer_local ? local : remote;
  } else {
    return false;
  }
  *present = pick != nullptr;
  if (pick) out->CopyFrom(*pick, alloc);
  return true;
}

}  // namespace

std::string_view Resolution::name() const {
  switch (kind) {
    case Kind::kRemote:
      return "remote";
    case Kind::kLocal:
      return "local";
    case Kind::kValue:
      return merged ? "merged" : "value";
    case Kind::kUnresolved:
      break;
  }
  return "unresolved";
}

std::optional<std::string> Resolution::resulting_value(const Conflict& c) const {
  switch (kind) {
    case Kind::kRemote:
      return c.remote_value;
    case Kind::kLocal:
      return c.local_value;
    case Kind::kValue:
      return value;
    case Kind::kUnresolved:
      return c.local_value;
  }
  return c.local_value;
}

std::optional<std::string> merge_json_objects(const std::optional<std::string>& base,
                                              const std::string& local, const std::string& remote,
                                              std::optional<bool> prefer_local) {
  auto l = parse_object(local);
  auto r = parse_object(remote);
  if (!l || !r) return std::nullopt;
  std::optional<rapidjson::Document> b;
  if (base) b = parse_object(*base);  // a base that is not an object counts as no base
  rapidjson::Document out;
  bool present = false;
  if (!merge_value(b ? &*b : nullptr, &*l, &*r, prefer_local, out.GetAllocator(), &out, &present)) {
    return std::nullopt;
  }
  if (!present || !out.IsObject()) return std::nullopt;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  out.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

Resolver remote_wins() {
  return [](const Conflict&, const ResolveContext&) { return Resolution::remote(); };
}

Resolver local_wins() {
  return [](const Conflict&, const ResolveContext&) { return Resolution::local(); };
}

Resolver last_writer_wins() {
  return [](const Conflict& c, const ResolveContext& ctx) {
    return local_is_newer(c, ctx) ? Resolution::local() : Resolution::remote();
  };
}

Resolver three_way_merge(MergeFallback fallback) {
  return [fallback](const Conflict& c, const ResolveContext& ctx) {
    bool local_newer = local_is_newer(c, ctx);
    auto whole = [&] {
      switch (fallback) {
        case MergeFallback::kRemote:
          return Resolution::remote();
        case MergeFallback::kLocal:
          return Resolution::local();
        case MergeFallback::kLastWriterWins:
          break;
      }
      return local_newer ? Resolution::local() : Resolution::remote();
    };
    if (!c.local_value || !c.remote_value) return whole();  // a removal cannot be merged
    std::optional<bool> prefer;
    switch (fallback) {
      case MergeFallback::kRemote:
        prefer = false;
        break;
      case MergeFallback::kLocal:
        prefer = true;
        break;
      case MergeFallback::kLastWriterWins:
        prefer = local_newer;
        break;
    }
    std::optional<std::string> base = c.has_base ? c.base_value : std::nullopt;
    auto merged = merge_json_objects(base, *c.local_value, *c.remote_value, prefer);
    if (!merged) return whole();  // not JSON objects
    return Resolution::merge_of_both(std::move(*merged));
  };
}

}  // namespace cairn
