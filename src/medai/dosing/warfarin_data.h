#pragma once
// Warfarin patients in the IWPC conventions (International Warfarin Pharmacogenetics Consortium,
// NEJM 2009, Supplementary Appendix): weekly dose in mg, age in decades (the first digit of the
// age bin), height in cm, weight in kg, the OMB race categories with "missing or mixed" as
// Unknown, amiodarone and enzyme-inducer (carbamazepine, phenytoin, rifampin) flags, CYP2C9
// diplotype and VKORC1 -1639 G>A (rs9923231), imputed when missing from linked SNPs and race as
// Appendix S4 does. Missing values stay missing here (std::nullopt / NaN); models decide.
#include <array>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace medai::dosing {

enum class Race { White, Asian, Black, Unknown };
enum class Vkorc1 { GG, AG, AA, Unknown };
// CYP2C9 diplotypes of the IWPC formula; Other = a typed allele beyond *1/*2/*3 (e.g. *1/*5).
enum class Cyp2c9 { S11, S12, S13, S22, S23, S33, Other, Unknown };

std::string race_name(Race r);      // "White", "Asian", "Black or African American", "Unknown"
std::string vkorc1_name(Vkorc1 v);  // "G/G", "A/G", "A/A", "unknown"
std::string cyp2c9_name(Cyp2c9 c);  // "*1/*1" ... "other", "unknown"
// Parsers: "" gives Unknown; anything else not a genotype of that SNP fails naming `where`.
Race parse_race(const std::string& text, const std::string& where);
Vkorc1 parse_vkorc1(const std::string& text, const std::string& where);
Cyp2c9 parse_cyp2c9(const std::string& text, const std::string& where);

// Secondary covariates the learned models may use (1/0, NaN when not recorded), in this order.
inline constexpr std::array<const char*, 10> kSecondaryNames = {
    "female",   "aspirin",       "simvastatin",      "valve_replacement", "current_smoker",
    "diabetes", "heart_failure", "azole_antifungal", "sulfonamide",       "target_inr"};

struct WarfarinPatient {
  size_t row = 0;  // 0-based data row of the CSV
  std::optional<int> age_decades;
  std::optional<double> height_cm, weight_kg;
  Race race = Race::Unknown;
  bool amiodarone = false, enzyme_inducer = false;  // not recorded counts as not taking (IWPC)
  Cyp2c9 cyp2c9 = Cyp2c9::Unknown;
  Vkorc1 vkorc1 = Vkorc1::Unknown;
  bool vkorc1_imputed = false;  // rs9923231 was missing and came from a linked SNP (S4)
  std::array<double, kSecondaryNames.size()> secondary{};
  std::optional<double> dose_mg_week;  // the stable therapeutic dose, when known
  // Age, height and weight all present: the published formulas apply unchanged.
  bool complete() const { return age_decades && height_cm && weight_kg; }
};

struct WarfarinCohort {
  std::filesystem::path source;
  std::vector<WarfarinPatient> patients;  // one per data row, in file order
  size_t vkorc1_imputed = 0;              // how many rs9923231 came from S4
};

// The linked-SNP genotypes S4 reads; "" when not typed.
struct LinkedSnps {
  std::string rs2359612, rs9934438, rs8050894;  // VKORC1 2255 C>T, 1173 C>T, 1542 G>C
};
// IWPC Appendix S4: rs9923231 from rs2359612 (White and Asian only), else rs9934438 (any race),
// else rs8050894 (White and Asian only); Unknown when none applies. `where` names the row.
Vkorc1 impute_vkorc1(Race race, const LinkedSnps& snps, const std::string& where);

// Reads the IWPC CSV layout (the column names of PharmGKB's IWPC file). Required columns: Race,
// Age, Height (cm), Weight (kg); `need_dose` adds "Therapeutic Dose of Warfarin". Genotype and
// medication columns may be absent (then unknown / not taking). Fails with InvalidInput naming
// the file, data row and column on an unknown genotype or race, an age that is not an IWPC bin,
// a height or weight <= 0 or implausible, or a dose <= 0.
WarfarinCohort read_warfarin_csv(const std::filesystem::path& path, bool need_dose);

// One patient from JSON (the recommend request): keys age (years, or an IWPC bin "70 - 79") or
// age_decades, height_cm, weight_kg, race, cyp2c9, vkorc1 (rs9923231) or the linked SNPs
// vkorc1_2255 / vkorc1_1173 / vkorc1_1542, amiodarone, enzyme_inducer (or carbamazepine,
// phenytoin, rifampin), and the secondary names above. Unknown keys fail (a typo must not be
// silently ignored); `race` is required (use "Unknown" when not stated).
WarfarinPatient patient_from_json(const nlohmann::json& j);
nlohmann::json patient_to_json(const WarfarinPatient& p);

}  // namespace medai::dosing
