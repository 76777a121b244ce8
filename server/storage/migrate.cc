#include "server/storage/migrate.h"

#include <openssl/evp.h>

#include <filesystem>
#include <map>
#include <memory>

#include "transport/crypto.h"

namespace cairn::server {
namespace {

constexpr int kPage = 500;           // rows per read
constexpr size_t kBatchRows = 2000;  // rows per write transaction on the target

// Everything the walk meets, in the order it meets it: pools by id; in each pool its identities
// by id (each with its logins and credentials), its datasets by (identity, name) with their
// records by (count, key), and its devices by id with their subscriptions.
struct Visitor {
  std::function<void(const std::string&, const std::string&)> meta;
  std::function<void(const PoolRow&)> pool;
  std::function<void(const IdentityRow&)> identity;
  std::function<void(const LoginRow&)> login;
  std::function<void(const CredentialsRow&)> credentials;
  std::function<void(const DatasetRow&)> dataset;
  std::function<void(const RecordRow&)> record;
  std::function<void(const DeviceRow&)> device;
  std::function<void(const std::string&, const std::string&, const std::string&)> subscription;
};

void walk(StorageTxn& txn, const Visitor& v,
          const std::function<void(const std::string&)>& progress) {
  for (const auto& key : txn.meta_keys()) v.meta(key, txn.meta(key).value_or(""));
  std::string after_pool;
  for (;;) {
    auto pools = txn.pools_after(after_pool, kPage);
    if (pools.empty()) break;
    for (const auto& pool : pools) {
      if (progress) progress(pool.id);
      v.pool(pool);
      std::string after_identity;
      for (;;) {
        auto ids = txn.identities_after(pool.id, after_identity, kPage);
        if (ids.empty()) break;
        for (const auto& id : ids) {
          v.identity(id);
          for (const auto& login : txn.logins_of(id.id)) v.login(login);
          for (const auto& creds : txn.credentials_of(id.id)) v.credentials(creds);
        }
        after_identity = ids.back().id;
      }
      std::string after_ds_identity, after_ds_name;
      for (;;) {
        auto datasets =
            txn.pool_dataset_rows_after(pool.id, after_ds_identity, after_ds_name, kPage);
        if (datasets.empty()) break;
        for (const auto& ds : datasets) {
          v.dataset(ds);
          int64_t after_count = -1;
          std::string after_key;
          for (;;) {
            auto records =
                txn.records_after(ds.identity_id, ds.name, -1, after_count, after_key, kPage);
            if (records.empty()) break;
            for (const auto& r : records) v.record(r);
            after_count = records.back().sync_count;
            after_key = records.back().key;
          }
        }
        after_ds_identity = datasets.back().identity_id;
        after_ds_name = datasets.back().name;
      }
      std::string after_device;
      for (;;) {
        auto devices = txn.pool_devices_after(pool.id, after_device, kPage);
        if (devices.empty()) break;
        for (const auto& d : devices) {
          v.device(d);
          for (const auto& [identity, dataset] : txn.subscriptions_of_device(d.id)) {
            v.subscription(d.id, identity, dataset);
          }
        }
        after_device = devices.back().id;
      }
    }
    after_pool = pools.back().id;
  }
}

// A canonical, length-prefixed serialisation of rows into SHA-256.
class Digest {
 public:
  Digest() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  Digest& table(const char* name) { return field(std::string_view(name)); }
  Digest& field(std::string_view v) {
    len(static_cast<uint64_t>(v.size()));
    EVP_DigestUpdate(ctx_.get(), v.data(), v.size());
    return *this;
  }
  Digest& field(const std::string& v) { return field(std::string_view(v)); }
  Digest& field(int64_t v) { return field(std::string_view(std::to_string(v))); }
  Digest& field(bool v) { return field(std::string_view(v ? "1" : "0")); }
  Digest& field(const std::optional<std::string>& v) {
    if (!v) {
      len(UINT64_MAX);
      return *this;
    }
    return field(std::string_view(*v));
  }
  Digest& field(const std::optional<int64_t>& v) {
    if (!v) {
      len(UINT64_MAX);
      return *this;
    }
    return field(*v);
  }
  std::string hex() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), out, &n);
    return transport::hex_encode(std::string(reinterpret_cast<char*>(out), n));
  }

 private:
  void len(uint64_t n) {
    unsigned char be[8];
    for (int i = 0; i < 8; ++i) be[i] = static_cast<unsigned char>(n >> (56 - 8 * i));
    EVP_DigestUpdate(ctx_.get(), be, 8);
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

StorageCensus census_of(StorageTxn& txn) {
  StorageCensus c;
  Digest d;
  Visitor v;
  v.meta = [&](const std::string& k, const std::string& value) {
    ++c.meta;
    d.table("meta").field(k).field(value);
  };
  v.pool = [&](const PoolRow& p) {
    ++c.pools;
    d.table("pool").field(p.id).field(p.name).field(p.allow_unauthenticated);
    d.field(p.developer_provider_name).field(p.settings_json).field(p.events_json);
    d.field(p.push_sync_json).field(p.streams_json).field(p.bulk_status).field(p.bulk_started);
    d.field(p.bulk_completed).field(p.bulk_failure).field(p.sync_sessions).field(p.created);
    d.field(p.modified);
  };
  v.identity = [&](const IdentityRow& i) {
    ++c.identities;
    d.table("identity").field(i.id).field(i.pool_id).field(i.created).field(i.modified);
  };
  v.login = [&](const LoginRow& l) {
    ++c.logins;
    d.table("login").field(l.pool_id).field(l.provider).field(l.subject).field(l.identity_id);
  };
  v.credentials = [&](const CredentialsRow& r) {
    ++c.credentials;
    d.table("credentials").field(r.access_key_id).field(r.secret_access_key);
    d.field(r.session_token_sha256).field(r.identity_id).field(r.pool_id).field(r.expires);
  };
  v.dataset = [&](const DatasetRow& r) {
    ++c.datasets;
    d.table("dataset").field(r.pool_id).field(r.identity_id).field(r.name).field(r.created);
    d.field(r.modified).field(r.modified_by).field(r.sync_count).field(r.deleted);
    d.field(r.deleted_at_count).field(r.merge_root).field(r.num_records).field(r.data_storage);
  };
  v.record = [&](const RecordRow& r) {
    ++c.records;
    d.table("record").field(r.identity_id).field(r.dataset).field(r.key).field(r.value);
    d.field(r.sync_count).field(r.modified).field(r.modified_by).field(r.device_modified);
  };
  v.device = [&](const DeviceRow& r) {
    ++c.devices;
    d.table("device").field(r.id).field(r.identity_id).field(r.pool_id).field(r.platform);
    d.field(r.token).field(r.created);
  };
  v.subscription = [&](const std::string& device, const std::string& identity,
                       const std::string& dataset) {
    ++c.subscriptions;
    d.table("subscription").field(device).field(identity).field(dataset);
  };
  walk(txn, v, {});
  c.sha256 = d.hex();
  return c;
}

// The table counts the walk must have matched, by table name.
std::map<std::string, int64_t> walked_counts(const StorageCensus& c) {
  return {{"meta", c.meta},
          {"pools", c.pools},
          {"identities", c.identities},
          {"logins", c.logins},
          {"credentials", c.credentials},
          {"datasets", c.datasets},
          {"records", c.records},
          {"devices", c.devices},
          {"subscriptions", c.subscriptions}};
}

// Rows the walk from the pools did not reach (an identity's data with no pool, say): a copy
// through the walk would drop them, so they stop the migration instead.
Status check_reachable(StorageTxn& txn, const StorageCensus& c) {
  auto walked = walked_counts(c);
  std::string unreached;
  for (const auto& [table, rows] : txn.table_rows()) {
    if (walked[table] != rows) {
      unreached += (unreached.empty() ? "" : ", ") + table + ": " + std::to_string(rows) +
                   " rows, " + std::to_string(walked[table]) + " reachable from a pool";
    }
  }
  if (unreached.empty()) return Status::OK();
  return Status(ErrorCode::kInvalidArgument,
                "the source holds rows that belong to no identity pool, which a copy would lose (" +
                    unreached + ")");
}

std::string differences(const StorageCensus& a, const StorageCensus& b) {
  auto x = walked_counts(a);
  auto y = walked_counts(b);
  std::string out;
  for (const auto& [table, rows] : x) {
    if (y[table] != rows) {
      out += (out.empty() ? "" : ", ") + table + " " + std::to_string(rows) + " -> " +
             std::to_string(y[table]);
    }
  }
  return out.empty() ? "same counts, different contents" : out;
}

}  // namespace

bool StorageCensus::operator==(const StorageCensus& o) const {
  return walked_counts(*this) == walked_counts(o) && sha256 == o.sha256;
}

std::string StorageCensus::summary() const {
  return std::to_string(pools) + " pools, " + std::to_string(identities) + " identities, " +
         std::to_string(logins) + " logins, " + std::to_string(credentials) + " credentials, " +
         std::to_string(datasets) + " datasets, " + std::to_string(records) + " records, " +
         std::to_string(devices) + " devices, " + std::to_string(subscriptions) +
         " subscriptions, " + std::to_string(meta) + " settings";
}

Result<StorageCensus> take_census(Storage& storage) {
  StorageCensus c;
  Status s = storage.read([&](StorageTxn& txn) {
    c = census_of(txn);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return c;
}

Result<StorageCensus> migrate_storage(Storage& from, Storage& to,
                                      const std::function<void(const std::string&)>& progress) {
  // The target must be new: copying over a server's data would merge two servers.
  Status s = to.read([&](StorageTxn& txn) -> Status {
    for (const auto& [table, rows] : txn.table_rows()) {
      if (rows != 0) {
        return Status(ErrorCode::kInvalidArgument, "the target already holds data (" + table +
                                                       ": " + std::to_string(rows) +
                                                       " rows); migrate into an empty database");
      }
    }
    return Status::OK();
  });
  if (!s.ok()) return s;

  StorageCensus source;
  // Rows waiting for the next target transaction, in walk order; one flush writes them all.
  std::vector<std::function<void(StorageTxn&)>> batch;
  Status write_failed;
  auto flush = [&] {
    if (batch.empty() || !write_failed.ok()) return;
    write_failed = to.write([&](StorageTxn& txn) {
      for (const auto& put : batch) put(txn);
      return Status::OK();
    });
    batch.clear();
  };
  auto add = [&](std::function<void(StorageTxn&)> put) {
    batch.push_back(std::move(put));
    if (batch.size() >= kBatchRows) flush();
  };

  s = from.read([&](StorageTxn& txn) -> Status {
    source = census_of(txn);
    Status reachable = check_reachable(txn, source);
    if (!reachable.ok()) return reachable;
    Visitor v;
    v.meta = [&](const std::string& k, const std::string& value) {
      add([k, value](StorageTxn& t) { t.set_meta(k, value); });
    };
    v.pool = [&](const PoolRow& r) { add([r](StorageTxn& t) { t.put_pool(r); }); };
    v.identity = [&](const IdentityRow& r) { add([r](StorageTxn& t) { t.put_identity(r); }); };
    v.login = [&](const LoginRow& r) { add([r](StorageTxn& t) { t.put_login(r); }); };
    v.credentials = [&](const CredentialsRow& r) {
      add([r](StorageTxn& t) { t.put_credentials(r); });
    };
    v.dataset = [&](const DatasetRow& r) { add([r](StorageTxn& t) { t.put_dataset(r); }); };
    v.record = [&](const RecordRow& r) { add([r](StorageTxn& t) { t.put_record(r); }); };
    v.device = [&](const DeviceRow& r) { add([r](StorageTxn& t) { t.put_device(r); }); };
    v.subscription = [&](const std::string& device, const std::string& identity,
                         const std::string& dataset) {
      add([device, identity, dataset](StorageTxn& t) {
        t.put_subscription(device, identity, dataset);
      });
    };
    walk(txn, v, progress);
    flush();
    return write_failed;
  });
  if (!s.ok()) return s;

  auto copied = take_census(to);
  if (!copied.ok()) return copied.status();
  if (!(*copied == source)) {
    return Status(ErrorCode::kStorage, "verification failed: the copy differs from the source (" +
                                           differences(source, *copied) + ")");
  }
  return source;
}

namespace {
bool is_sqlite(const std::string& url) { return url.rfind("sqlite:", 0) == 0; }
}  // namespace

Status backup_storage(const std::string& db_url, const std::string& to_file) {
  if (is_sqlite(db_url)) return backup_sqlite(db_url.substr(7), to_file);
  auto from = open_storage(db_url);
  if (!from.ok()) return from.status();
  std::string partial = to_file + ".partial";
  std::error_code ec;
  std::filesystem::remove(partial, ec);
  {
    auto to = open_storage("sqlite:" + partial);
    if (!to.ok()) return to.status();
    auto copied = migrate_storage(**from, **to);
    if (!copied.ok()) {
      to->reset();
      std::filesystem::remove(partial, ec);
      return copied.status();
    }
  }
  for (const char* side : {"-wal", "-shm"}) std::filesystem::remove(partial + side, ec);
  std::filesystem::rename(partial, to_file, ec);
  if (ec)
    return Status(ErrorCode::kStorage,
                  "cannot move the backup to " + to_file + ": " + ec.message());
  return Status::OK();
}

Status restore_storage(const std::string& from_file, const std::string& db_url) {
  if (is_sqlite(db_url)) return restore_sqlite(from_file, db_url.substr(7));
  if (!std::filesystem::exists(from_file)) {
    return Status(ErrorCode::kInvalidArgument, "no backup at " + from_file);
  }
  auto from = open_storage("sqlite:" + from_file);
  if (!from.ok()) return from.status();
  auto to = open_storage(db_url);
  if (!to.ok()) return to.status();
  auto copied = migrate_storage(**from, **to);
  if (!copied.ok() && copied.status().code() == ErrorCode::kInvalidArgument) {
    return Status(ErrorCode::kInvalidArgument,
                  copied.status().message() +
                      ". A PostgreSQL restore never overwrites: restore into a new database or "
                      "schema (postgresql://...?schema=restored), then point the servers at it");
  }
  return copied.status();
}

}  // namespace cairn::server
