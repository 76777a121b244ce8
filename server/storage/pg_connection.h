// PostgreSQL through libpq, as the backend's other parts use it: a connection with its prepared
// statements, binary parameters and results, the error type, and the database URL.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "cairn/status.h"

namespace cairn::server::pg {

constexpr Oid kInt8Oid = 20;
constexpr Oid kInt4Oid = 23;

class PgError : public std::runtime_error {
 public:
  PgError(const std::string& what, std::string sqlstate, bool connection_lost)
      : std::runtime_error(what),
        sqlstate_(std::move(sqlstate)),
        connection_lost_(connection_lost) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool connection_lost() const { return connection_lost_; }
  // PostgreSQL aborted the transaction to keep it serializable: running it again is the fix.
  bool retryable() const { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }

 private:
  std::string sqlstate_;
  bool connection_lost_;
};

// Bound parameters, sent in binary: integers as int8, strings as their bytes (TEXT or BYTEA alike).
class Params {
 public:
  Params& add(const std::string& v) { return push(v, 0, false); }
  Params& add(const char* v) { return push(v, 0, false); }
  Params& add(int64_t v) {
    char be[8];
    for (int i = 0; i < 8; ++i) be[i] = static_cast<char>(static_cast<uint64_t>(v) >> (56 - 8 * i));
    return push(std::string(be, 8), kInt8Oid, false);
  }
  Params& add(int v) { return add(static_cast<int64_t>(v)); }
  Params& add(bool v) { return add(static_cast<int64_t>(v ? 1 : 0)); }
  Params& add(const std::optional<std::string>& v) { return v ? add(*v) : push({}, 0, true); }
  Params& add(const std::optional<int64_t>& v) { return v ? add(*v) : push({}, kInt8Oid, true); }

  int size() const { return static_cast<int>(values_.size()); }
  const std::vector<Oid>& types() const { return types_; }
  // Pointers into this object, valid while it lives unchanged.
  void arrays(std::vector<const char*>* values, std::vector<int>* lengths) const {
    values->clear();
    lengths->clear();
    for (size_t i = 0; i < values_.size(); ++i) {
      values->push_back(null_[i] ? nullptr : values_[i].data());
      lengths->push_back(static_cast<int>(values_[i].size()));
    }
  }

 private:
  Params& push(std::string bytes, Oid type, bool null) {
    values_.push_back(std::move(bytes));
    types_.push_back(type);
    null_.push_back(null);
    return *this;
  }
  std::vector<std::string> values_;
  std::vector<Oid> types_;
  std::vector<bool> null_;
};

// A query's rows, in binary.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r) {}
  Rows(Rows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  ~Rows() { PQclear(r_); }

  int size() const { return PQntuples(r_); }
  bool empty() const { return size() == 0; }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
  }
  std::optional<std::string> opt_text(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return text(row, col);
  }
  int64_t i64(int row, int col) const {
    const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col));
    int len = PQgetlength(r_, row, col);
    Oid type = PQftype(r_, col);
    if ((type != kInt8Oid || len != 8) && (type != kInt4Oid || len != 4)) {
      throw PgError("column " + std::to_string(col) + " is not an integer", "", false);
    }
    uint64_t v = 0;
    for (int i = 0; i < len; ++i) v = (v << 8) | p[i];
    if (len == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
  std::optional<int64_t> opt_i64(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return i64(row, col);
  }

 private:
  PGresult* r_;
};

// One libpq connection, with the statements it has prepared.
class Connection {
 public:
  Connection(const std::string& conninfo, const std::string& schema) {
    c_ = PQconnectdb(conninfo.c_str());
    if (PQstatus(c_) != CONNECTION_OK) {
      std::string why = PQerrorMessage(c_);
      PQfinish(c_);
      c_ = nullptr;
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      throw PgError("cannot connect to PostgreSQL: " + why, "", true);
    }
    // Notices ("schema already exists, skipping") are not the log's business.
    PQsetNoticeProcessor(
        c_, [](void*, const char*) {}, nullptr);
    exec("SET client_encoding TO 'UTF8'");
    exec("SET application_name TO 'cairn-server'");
    if (!schema.empty()) exec("SET search_path TO " + quote_identifier(schema));
  }
  ~Connection() {
    if (c_) PQfinish(c_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool broken() const { return PQstatus(c_) != CONNECTION_OK; }
  PGconn* handle() { return c_; }

  // A statement without parameters (several, separated by semicolons, are allowed).
  void exec(const std::string& sql) { check(PQexec(c_, sql.c_str()), sql); }

  // A parameterised statement, prepared on this connection the first time it is run.
  Rows query(const std::string& sql, const Params& params = Params()) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "cairn_" + std::to_string(prepared_.size());
      check(PQprepare(c_, name.c_str(), sql.c_str(), params.size(), params.types().data()), sql);
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    std::vector<const char*> values;
    std::vector<int> lengths;
    params.arrays(&values, &lengths);
    std::vector<int> formats(values.size(), 1);
    return check(PQexecPrepared(c_, it->second.c_str(), params.size(), values.data(),
                                lengths.data(), formats.data(), /*resultFormat=*/1),
                 sql);
  }

  // A statement whose text varies with its input (a batch of N rows): run unprepared, so the
  // connection keeps no statement per batch size.
  Rows query_once(const std::string& sql, const Params& params) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    params.arrays(&values, &lengths);
    std::vector<int> formats(values.size(), 1);
    return check(PQexecParams(c_, sql.c_str(), params.size(), params.types().data(), values.data(),
                              lengths.data(), formats.data(), /*resultFormat=*/1),
                 sql);
  }

  std::string quote_identifier(const std::string& name) {
    char* q = PQescapeIdentifier(c_, name.data(), name.size());
    if (!q) throw PgError("bad identifier '" + name + "'", "", false);
    std::string out(q);
    PQfreemem(q);
    return out;
  }

 private:
  Rows check(PGresult* r, const std::string& sql) {
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Rows(r);
    std::string state;
    if (const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr) state = s;
    std::string why = r ? PQresultErrorMessage(r) : PQerrorMessage(c_);
    PQclear(r);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    std::string first_line = sql.substr(0, sql.find('\n'));
    if (first_line.size() > 80) first_line = first_line.substr(0, 80) + "...";
    throw PgError(why + " [" + state + "] in: " + first_line, state, broken());
  }

  PGconn* c_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;
};

// A result's row, as the row readers of rows.h read it.
struct At {
  const Rows& rows;
  int row;
  std::string text(int col) const { return rows.text(row, col); }
  std::optional<std::string> opt_text(int col) const { return rows.opt_text(row, col); }
  int64_t i64(int col) const { return rows.i64(row, col); }
  std::optional<int64_t> opt_i64(int col) const { return rows.opt_i64(row, col); }
};

// The URL as given, split into what libpq takes and cairn's own parameters.
struct PgUrl {
  std::string conninfo;  // the URL without cairn's parameters
  std::string schema;    // empty: the database's search_path
  std::string redacted;  // for logs: no password
};

Result<PgUrl> parse_url(const std::string& url);

}  // namespace cairn::server::pg
