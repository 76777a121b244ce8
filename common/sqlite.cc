#include "common/sqlite.h"

namespace cairn::sqlite {

Stmt::Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

void Stmt::check(int rc) {
  if (rc != SQLITE_OK) throw Error(std::string("sqlite bind: ") + sqlite3_errmsg(db_), rc & 0xff);
}

Stmt& Stmt::bind(const std::string& v) {
  check(sqlite3_bind_text(s_, ++i_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  return *this;
}

Stmt& Stmt::bind(const std::optional<std::string>& v) {
  if (!v) {
    check(sqlite3_bind_null(s_, ++i_));
    return *this;
  }
  return bind(*v);
}

Stmt& Stmt::bind(int64_t v) {
  check(sqlite3_bind_int64(s_, ++i_, v));
  return *this;
}

Stmt& Stmt::bind(std::optional<int64_t> v) {
  if (!v) {
    check(sqlite3_bind_null(s_, ++i_));
    return *this;
  }
  return bind(*v);
}

bool Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw Error(std::string("sqlite: ") + sqlite3_errmsg(db_), rc & 0xff);
}

std::string Stmt::text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
}

std::optional<std::string> Stmt::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

std::optional<int64_t> Stmt::opt_i64(int col) const {
  if (is_null(col)) return std::nullopt;
  return i64(col);
}

Connection::Connection(const std::string& path, int flags) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error("cannot open " + path + ": " + msg, rc & 0xff);
  }
  sqlite3_extended_result_codes(db_, 0);
}

Connection::~Connection() {
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

void Connection::fail(const std::string& what) {
  throw Error(what + ": " + sqlite3_errmsg(db_), sqlite3_errcode(db_) & 0xff);
}

void Connection::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw Error(std::string("sqlite: ") + msg, rc & 0xff);
  }
}

void Connection::run(const char* sql) { prepare(sql).run(); }

Stmt Connection::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
      fail(std::string("sqlite prepare (") + sql + ")");
    }
    it = cache_.emplace(sql, s).first;
  }
  return Stmt(db_, it->second);
}

}  // namespace cairn::sqlite
