// Glucose histories and CGM recordings that cannot be real: refused, never turned into a
// recommendation or a giant grid.
#include <gtest/gtest.h>

#include "medai/core/error.h"
#include "medai/glucose/cgm_data.h"
#include "medai/glucose/recommend.h"
#include "support/test_support.h"

using namespace medai;
using namespace medai::glucose;

namespace {
std::string refusal(const std::string& csv) {
  try {
    PatientSettings p;
    p.basal_u_per_min = 1.0 / 60;
    recommend(parse_history(csv, "history.csv"), p, 0, {});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
std::string rows(const std::string& last) {
  return "timestamp,cgm_mgdl\n2026-01-01 07:00:00,150\n2026-01-01 07:05:00,152\n" + last;
}
}  // namespace

TEST(HostileHistory, BackwardsFutureJumpsAndNonFiniteValuesAreRefusedNamingTheLine) {
  EXPECT_EQ(refusal(rows("2026-01-01 07:10:00,154\n")), "");
  EXPECT_NE(refusal(rows("2026-01-01 06:10:00,154\n")).find("line 4, field 'timestamp': time goes backwards"),
            std::string::npos);
  EXPECT_NE(refusal(rows("2029-01-01 07:10:00,154\n")).find("jumps"), std::string::npos);
  EXPECT_NE(refusal("timestamp,cgm_mgdl\n2999-01-01 07:00:00,150\n").find("in the future"), std::string::npos);
  EXPECT_NE(refusal(rows("2026-01-01 07:10:00,nan\n")).find("not a finite number"), std::string::npos);
  EXPECT_NE(refusal(rows("2026-01-01 07:10:00,inf\n")).find("line 4"), std::string::npos);
}

TEST(HostileHistory, SettingsAreValidatedInTheLibraryNamingTheField) {
  auto h = parse_history(rows("2026-01-01 07:10:00,154\n"), "history.csv");
  PatientSettings p;
  p.basal_u_per_min = 1.0 / 60;
  p.target_mgdl = 20;
  try {
    recommend(h, p, 0, {});
    ADD_FAILURE() << "a 20 mg/dL target must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'target'"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("--"), std::string::npos) << "a library message names fields, not flags";
  }
  p.target_mgdl = 120;
  p.carb_ratio_g_per_u = std::nan("");
  EXPECT_THROW(recommend(h, p, 0, {}), Error);
}

TEST(HostileCgm, AMistypedYearIsRefusedBeforeTheGridIsAllocated) {
  test::TempDir dir;
  test::write_text(dir / "p.csv", "timestamp,glucose_value_mg_dl\n2024-01-01 00:00:00,100\n2924-01-01 00:05:00,110\n");
  try {
    read_cgm_csv(dir / "p.csv");
    ADD_FAILURE() << "900 years of 5-minute slots must not be allocated";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("jumps"), std::string::npos) << e.what();
  }
}
