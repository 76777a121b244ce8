// cairn_options.durable_writes through the shared libcairn, against a power cut: the same SQLite
// library serves the test and libcairn, so the test's VFS (fixtures/power_cut_vfs.h) sees every
// write the device's store makes.
#include <gtest/gtest.h>

#include <string>

#include "cairn/cairn.h"
#include "fixtures/power_cut_vfs.h"
#include "temp_dir.h"

namespace cairn::testing {
namespace {

// Opens the device's database, puts gold=10, and cuts the power before closing it; then opens
// it again with the power back and reads gold.
std::string gold_after_a_power_cut(int durable_writes) {
  auto& power = PowerCutVfs::install();
  TempDir dir("cairn-capi-durable");
  std::string path = dir.path + "/device.db";
  cairn_options options;
  cairn_options_init(&options);
  options.database_path = path.c_str();
  options.durable_writes = durable_writes;
  {
    cairn_manager* manager = nullptr;
    char* error = nullptr;
    EXPECT_EQ(cairn_manager_open(&options, &manager, &error), CAIRN_OK) << error;
    cairn_dataset* save = nullptr;
    EXPECT_EQ(cairn_dataset_open(manager, "save", &save, &error), CAIRN_OK) << error;
    EXPECT_EQ(cairn_put(save, "gold", "10", &error), CAIRN_OK) << error;
    power.cut();
    cairn_dataset_close(save);
    cairn_manager_close(manager);
  }
  power.restore();
  cairn_manager* manager = nullptr;
  char* error = nullptr;
  EXPECT_EQ(cairn_manager_open(&options, &manager, &error), CAIRN_OK) << error;
  cairn_dataset* save = nullptr;
  EXPECT_EQ(cairn_dataset_open(manager, "save", &save, &error), CAIRN_OK) << error;
  char* value = nullptr;
  EXPECT_EQ(cairn_get(save, "gold", &value, &error), CAIRN_OK) << error;
  std::string out = value ? value : "(absent)";
  cairn_string_free(value);
  cairn_dataset_close(save);
  cairn_manager_close(manager);
  return out;
}

TEST(CApiDurableWrites, APutWithDurableWritesSurvivesAPowerCut) {
  EXPECT_EQ(gold_after_a_power_cut(1), "10");
}

TEST(CApiDurableWrites, WithoutThemAPowerCutRightAfterAPutTakesItBack) {
  // synchronous=NORMAL: the commit sits in the WAL, unsynced until a checkpoint.
  EXPECT_EQ(gold_after_a_power_cut(0), "(absent)");
}

}  // namespace
}  // namespace cairn::testing
