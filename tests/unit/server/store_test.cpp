#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/io/csv.h"
#include "medai/server/store.h"
#include "support/test_support.h"

using namespace medai;
using namespace medai::server;

TEST(Store, TokensAreVerifiedByHashOnlyAndRolesKept) {
  test::TempDir dir;
  Store s(dir / "m.db");
  const std::string c = s.create_token(Role::Clinician, "ward 3"), a = s.create_token(Role::Admin, "ops");
  ASSERT_EQ(c.rfind("mdai_1_", 0), 0u);
  EXPECT_EQ(c.size(), 7u + 64u);
  auto who = s.verify(c);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->role, Role::Clinician);
  EXPECT_EQ(s.verify(a)->role, Role::Admin);
  std::string wrong = c;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  EXPECT_FALSE(s.verify(wrong));
  EXPECT_FALSE(s.verify("mdai_2_" + c.substr(7)));  // another token's id
  EXPECT_FALSE(s.verify("Bearer x"));
  EXPECT_FALSE(s.verify("mdai__abc"));
  EXPECT_FALSE(s.verify(""));
  // The secret is nowhere in the database file.
  EXPECT_EQ(test::read_text(dir / "m.db").find(c.substr(7)), std::string::npos);
  s.revoke(who->id);
  EXPECT_FALSE(s.verify(c));
  EXPECT_EQ(s.tokens().size(), 1u);
  EXPECT_THROW(parse_role("nurse"), Error);
}

TEST(Store, AuditRowsPersistFilterBySinceAndExport) {
  test::TempDir dir;
  {
    Store s(dir / "a.db");
    AuditRow r;
    r.time = "2026-11-27T10:00:00Z";
    r.token_id = 1;
    r.action = "predict";
    r.model = "cxr";
    r.output = R"({"label":"NORMAL"})";
    s.audit(r);
    r.time = "2026-11-28T10:00:00Z";
    r.action = "model.unload";
    r.output = "plain, with \"quotes\"";
    s.audit(r);
  }
  Store s(dir / "a.db");  // reopened: rows survived
  EXPECT_EQ(s.audit_rows("").size(), 2u);
  auto since = s.audit_rows("2026-11-28");
  ASSERT_EQ(since.size(), 1u);
  EXPECT_EQ(since[0].action, "model.unload");
  auto csv = io::parse_csv(audit_csv(s.audit_rows("")), "audit.csv");
  ASSERT_EQ(csv.rows.size(), 2u);
  EXPECT_EQ(csv.rows[1][csv.column("output")], "plain, with \"quotes\"");
  auto j = nlohmann::json::parse(audit_json(s.audit_rows("")));
  EXPECT_EQ(j[0]["output"]["label"], "NORMAL");
  EXPECT_EQ(s.integrity_check(), "ok");
  EXPECT_TRUE(s.ping());
  EXPECT_THROW(Store(dir / "a.db" / "not-a-dir" / "x.db"), Error);
}
