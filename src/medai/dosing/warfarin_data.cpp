#include "medai/dosing/warfarin_data.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/io/csv.h"

namespace medai::dosing {

using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A diplotype "X/Y" with X, Y drawn from `alleles`, in either order; the canonical order is the
// one listed in `canonical`.
std::optional<size_t> diplotype(const std::string& text, const std::vector<std::string>& canonical) {
  for (size_t i = 0; i < canonical.size(); ++i) {
    const std::string& c = canonical[i];
    const auto slash = c.find('/');
    const std::string swapped = c.substr(slash + 1) + "/" + c.substr(0, slash);
    if (text == c || text == swapped) return i;
  }
  return std::nullopt;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// "70 - 79" -> 7, "90+" -> 9, "0 - 9" -> 0.
std::optional<int> parse_age_bin(const std::string& text, const std::string& where) {
  if (text.empty()) return std::nullopt;
  if (text == "90+") return 9;
  const auto dash = text.find('-');
  if (dash != std::string::npos) {
    auto lo = io::parse_number(trim(text.substr(0, dash)));
    auto hi = io::parse_number(trim(text.substr(dash + 1)));
    if (lo && hi && *lo >= 0 && *lo <= 80 && std::fmod(*lo, 10) == 0 && *hi == *lo + 9)
      return static_cast<int>(*lo / 10);
  }
  fail_invalid(where + ": '" + text + "' is not an IWPC age bin (0 - 9, 10 - 19, ..., 80 - 89, 90+)");
}

double measure(const std::string& text, double lo, double hi, const std::string& unit, const std::string& where) {
  if (text.empty()) return kNaN;
  auto v = io::parse_number(text);
  if (!v || !std::isfinite(*v)) fail_invalid(where + ": '" + text + "' is not a number");
  if (*v <= 0) fail_invalid(where + ": " + text + " " + unit + " must be > 0");
  if (*v < lo || *v > hi)
    fail_invalid(where + ": " + text + " " + unit + " is outside the plausible " + std::to_string(int(lo)) + ".." +
                 std::to_string(int(hi)) + " " + unit);
  return *v;
}

// "1" / "0" / "" (not recorded) -> 1, 0, NaN.
double flag(const std::string& text, const std::string& where) {
  if (text.empty()) return kNaN;
  if (text == "1") return 1;
  if (text == "0") return 0;
  fail_invalid(where + ": '" + text + "' is not a yes/no flag (1, 0 or empty)");
}

}  // namespace

std::string race_name(Race r) {
  switch (r) {
    case Race::White: return "White";
    case Race::Asian: return "Asian";
    case Race::Black: return "Black or African American";
    case Race::Unknown: break;
  }
  return "Unknown";
}

std::string vkorc1_name(Vkorc1 v) {
  static const char* names[] = {"G/G", "A/G", "A/A", "unknown"};
  return names[static_cast<int>(v)];
}

std::string cyp2c9_name(Cyp2c9 c) {
  static const char* names[] = {"*1/*1", "*1/*2", "*1/*3", "*2/*2", "*2/*3", "*3/*3", "other", "unknown"};
  return names[static_cast<int>(c)];
}

Race parse_race(const std::string& text, const std::string& where) {
  if (text.empty() || text == "Unknown" || text == "unknown") return Race::Unknown;
  if (text == "White" || text == "white") return Race::White;
  if (text == "Asian" || text == "asian") return Race::Asian;
  if (text == "Black or African American" || text == "Black" || text == "black") return Race::Black;
  fail_invalid(where + ": unknown race '" + text +
               "' (expected White, Asian, Black or African American, or Unknown for missing or mixed)");
}

Vkorc1 parse_vkorc1(const std::string& text, const std::string& where) {
  if (text.empty() || text == "unknown") return Vkorc1::Unknown;
  if (auto i = diplotype(text, {"G/G", "A/G", "A/A"})) return static_cast<Vkorc1>(*i);
  fail_invalid(where + ": unknown VKORC1 -1639 G>A genotype '" + text + "' (expected G/G, A/G or A/A)");
}

Cyp2c9 parse_cyp2c9(const std::string& text, const std::string& where) {
  if (text.empty() || text == "unknown") return Cyp2c9::Unknown;
  if (auto i = diplotype(text, {"*1/*1", "*1/*2", "*1/*3", "*2/*2", "*2/*3", "*3/*3"})) return static_cast<Cyp2c9>(*i);
  // Another named star allele (*4 ... *60): typed, but not one of the formula's diplotypes.
  const auto slash = text.find('/');
  auto star = [](const std::string& a) {
    if (a.size() < 2 || a.size() > 3 || a[0] != '*') return false;
    for (size_t i = 1; i < a.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(a[i]))) return false;
    return std::stoi(a.substr(1)) >= 1;
  };
  if (slash != std::string::npos && star(text.substr(0, slash)) && star(text.substr(slash + 1))) return Cyp2c9::Other;
  fail_invalid(where + ": unknown CYP2C9 genotype '" + text + "' (expected a diplotype such as *1/*1 or *1/*3)");
}

Vkorc1 impute_vkorc1(Race race, const LinkedSnps& snps, const std::string& where) {
  const bool white_or_asian = race == Race::White || race == Race::Asian;
  // Each linked SNP's genotypes in the order that maps to G/G, A/G, A/A at rs9923231.
  auto map = [&](const std::string& g, const std::vector<std::string>& order, const std::string& name) {
    if (g.empty()) return Vkorc1::Unknown;
    if (auto i = diplotype(g, order)) return static_cast<Vkorc1>(*i);
    fail_invalid(where + ": unknown VKORC1 " + name + " genotype '" + g + "' (expected " + order[0] + ", " + order[1] +
                 " or " + order[2] + ")");
  };
  const Vkorc1 v2255 = map(snps.rs2359612, {"C/C", "C/T", "T/T"}, "2255 C>T");
  const Vkorc1 v1173 = map(snps.rs9934438, {"C/C", "C/T", "T/T"}, "1173 C>T");
  const Vkorc1 v1542 = map(snps.rs8050894, {"G/G", "C/G", "C/C"}, "1542 G>C");
  if (white_or_asian && v2255 != Vkorc1::Unknown) return v2255;
  if (v1173 != Vkorc1::Unknown) return v1173;
  if (white_or_asian && v1542 != Vkorc1::Unknown) return v1542;
  return Vkorc1::Unknown;
}

WarfarinCohort read_warfarin_csv(const std::filesystem::path& path, bool need_dose) {
  const io::CsvTable t = io::read_csv(path);
  WarfarinCohort cohort;
  cohort.source = path;
  const std::string file = path.string();
  for (const char* required : {"Race", "Age", "Height (cm)", "Weight (kg)"})
    if (!t.find_column(required))
      fail_invalid(file + ": no column '" + std::string(required) + "' (the IWPC layout; race may be 'Unknown')");
  const auto dose_col = t.find_column("Therapeutic Dose of Warfarin");
  if (need_dose && !dose_col) fail_invalid(file + ": no column 'Therapeutic Dose of Warfarin' (mg/week)");
  auto col = [&](const char* name) { return t.find_column(name); };
  const auto race = col("Race"), age = col("Age"), height = col("Height (cm)"), weight = col("Weight (kg)");
  const auto cyp = col("CYP2C9 consensus") ? col("CYP2C9 consensus") : col("Cyp2C9 genotypes");
  const auto vk = col("VKORC1 -1639 consensus")
                      ? col("VKORC1 -1639 consensus")
                      : col("VKORC1 genotype: -1639 G>A (3673); chr16:31015190; rs9923231; C/T");
  const auto v2255 = col("VKORC1 2255 consensus"), v1173 = col("VKORC1 1173 consensus"),
             v1542 = col("VKORC1 1542 consensus");
  const auto amio = col("Amiodarone (Cordarone)");
  const std::vector<std::optional<size_t>> inducers = {col("Carbamazepine (Tegretol)"), col("Phenytoin (Dilantin)"),
                                                       col("Rifampin or Rifampicin")};
  const std::vector<std::optional<size_t>> flags = {std::nullopt,  // female, from Gender
                                                    col("Aspirin"),
                                                    col("Simvastatin (Zocor)"),
                                                    col("Valve Replacement"),
                                                    col("Current Smoker"),
                                                    col("Diabetes"),
                                                    col("Congestive Heart Failure and/or Cardiomyopathy"),
                                                    col("Anti-fungal Azoles"),
                                                    col("Sulfonamide Antibiotics"),
                                                    std::nullopt};  // target INR
  const auto gender = col("Gender"), inr = col("Target INR");
  cohort.patients.reserve(t.rows.size());
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    auto cell = [&](const std::optional<size_t>& c) { return c ? trim(row[*c]) : std::string(); };
    auto where = [&](const std::optional<size_t>& c) {
      return file + ": data row " + std::to_string(r) + " (line " + std::to_string(r + 2) + "), field '" +
             (c ? t.header[*c] : std::string("?")) + "'";
    };
    WarfarinPatient p;
    p.row = r;
    p.race = parse_race(cell(race), where(race));
    p.age_decades = parse_age_bin(cell(age), where(age));
    if (double h = measure(cell(height), 50, 250, "cm", where(height)); std::isfinite(h)) p.height_cm = h;
    if (double w = measure(cell(weight), 10, 300, "kg", where(weight)); std::isfinite(w)) p.weight_kg = w;
    p.cyp2c9 = parse_cyp2c9(cell(cyp), where(cyp));
    p.vkorc1 = parse_vkorc1(cell(vk), where(vk));
    const LinkedSnps snps{cell(v2255), cell(v1173), cell(v1542)};
    const Vkorc1 imputed = impute_vkorc1(p.race, snps, where(v2255) + " / linked VKORC1 SNPs");
    if (p.vkorc1 == Vkorc1::Unknown && imputed != Vkorc1::Unknown) {
      p.vkorc1 = imputed;
      p.vkorc1_imputed = true;
      ++cohort.vkorc1_imputed;
    }
    p.amiodarone = flag(cell(amio), where(amio)) == 1;
    for (const auto& c : inducers) p.enzyme_inducer = (flag(cell(c), where(c)) == 1) || p.enzyme_inducer;
    for (size_t k = 0; k < flags.size(); ++k) p.secondary[k] = flags[k] ? flag(cell(flags[k]), where(flags[k])) : kNaN;
    const std::string g = cell(gender);
    if (g == "female" || g == "Female" || g == "F") p.secondary[0] = 1;
    else if (g == "male" || g == "Male" || g == "M") p.secondary[0] = 0;
    else if (!g.empty() && g != "-99" && g != "not known")
      fail_invalid(where(gender) + ": '" + g + "' is not male, female or empty");
    p.secondary[9] = measure(cell(inr), 1, 5, "(INR)", where(inr));
    if (dose_col) {
      const std::string d = cell(dose_col);
      if (!d.empty()) {
        auto v = io::parse_number(d);
        if (!v || !std::isfinite(*v)) fail_invalid(where(dose_col) + ": '" + d + "' is not a dose in mg/week");
        if (*v <= 0) fail_invalid(where(dose_col) + ": dose " + d + " mg/week must be > 0");
        if (*v > 1000) fail_invalid(where(dose_col) + ": dose " + d + " mg/week is not plausible (> 1000)");
        p.dose_mg_week = *v;
      }
    }
    cohort.patients.push_back(p);
  }
  if (cohort.patients.empty()) fail_invalid(file + ": no data rows");
  return cohort;
}

namespace {

double json_flag(const json& v, const std::string& key) {
  if (v.is_null()) return kNaN;
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number() && (v.get<double>() == 0 || v.get<double>() == 1)) return v.get<double>();
  fail_invalid("patient field '" + key + "' must be true, false, 1, 0 or null");
}

std::string json_text(const json& v, const std::string& key) {
  if (v.is_null()) return "";
  if (!v.is_string()) fail_invalid("patient field '" + key + "' must be a string or null");
  return trim(v.get<std::string>());
}

double json_number(const json& v, const std::string& key, double lo, double hi, const std::string& unit) {
  if (v.is_null()) return kNaN;
  if (!v.is_number()) fail_invalid("patient field '" + key + "' must be a number or null");
  return measure(std::to_string(v.get<double>()), lo, hi, unit, "patient field '" + key + "'");
}

}  // namespace

WarfarinPatient patient_from_json(const json& j) {
  if (!j.is_object()) fail_invalid("patient: expected a JSON object");
  if (!j.contains("race"))
    fail_invalid("patient: 'race' is required (White, Asian, Black or African American, Unknown)");
  WarfarinPatient p;
  p.secondary.fill(kNaN);
  LinkedSnps snps;
  for (const auto& [key, v] : j.items()) {
    if (key == "race") p.race = parse_race(json_text(v, key), "patient field 'race'");
    else if (key == "age" && v.is_string()) p.age_decades = parse_age_bin(json_text(v, key), "patient field 'age'");
    else if (key == "age") {
      const double a = json_number(v, key, 1, 120, "years");
      if (std::isfinite(a)) p.age_decades = std::min(9, static_cast<int>(a / 10));
    } else if (key == "age_decades") {
      if (v.is_null()) continue;
      if (!v.is_number_integer() || v.get<int>() < 0 || v.get<int>() > 9)
        fail_invalid("patient field 'age_decades' must be a whole number 0..9");
      p.age_decades = v.get<int>();
    } else if (key == "height_cm") {
      if (double h = json_number(v, key, 50, 250, "cm"); std::isfinite(h)) p.height_cm = h;
    } else if (key == "weight_kg") {
      if (double w = json_number(v, key, 10, 300, "kg"); std::isfinite(w)) p.weight_kg = w;
    } else if (key == "cyp2c9") p.cyp2c9 = parse_cyp2c9(json_text(v, key), "patient field 'cyp2c9'");
    else if (key == "vkorc1") p.vkorc1 = parse_vkorc1(json_text(v, key), "patient field 'vkorc1'");
    else if (key == "vkorc1_2255") snps.rs2359612 = json_text(v, key);
    else if (key == "vkorc1_1173") snps.rs9934438 = json_text(v, key);
    else if (key == "vkorc1_1542") snps.rs8050894 = json_text(v, key);
    else if (key == "amiodarone") p.amiodarone = json_flag(v, key) == 1;
    else if (key == "enzyme_inducer" || key == "carbamazepine" || key == "phenytoin" || key == "rifampin")
      p.enzyme_inducer = p.enzyme_inducer || json_flag(v, key) == 1;
    else if (key == "target_inr") p.secondary[9] = json_number(v, key, 1, 5, "(INR)");
    else if (key == "sex") {
      const std::string s = json_text(v, key);
      if (s == "female") p.secondary[0] = 1;
      else if (s == "male") p.secondary[0] = 0;
      else if (!s.empty()) fail_invalid("patient field 'sex' must be male, female or null");
    } else {
      bool known = false;
      for (size_t k = 0; k + 1 < kSecondaryNames.size(); ++k)
        if (key == kSecondaryNames[k]) {
          p.secondary[k] = json_flag(v, key);
          known = true;
        }
      if (!known)
        fail_invalid("patient: unknown field '" + key +
                     "' (known: age, height_cm, weight_kg, race, cyp2c9, vkorc1, vkorc1_2255, vkorc1_1173, "
                     "vkorc1_1542, amiodarone, enzyme_inducer, sex, target_inr, aspirin, simvastatin, ...)");
    }
  }
  const Vkorc1 imputed = impute_vkorc1(p.race, snps, "patient linked VKORC1 SNPs");
  if (p.vkorc1 == Vkorc1::Unknown && imputed != Vkorc1::Unknown) {
    p.vkorc1 = imputed;
    p.vkorc1_imputed = true;
  }
  return p;
}

json patient_to_json(const WarfarinPatient& p) {
  auto opt = [](const auto& o) { return o ? json(*o) : json(nullptr); };
  json j = {
      {"age_decades", opt(p.age_decades)},  {"height_cm", opt(p.height_cm)},   {"weight_kg", opt(p.weight_kg)},
      {"race", race_name(p.race)},          {"cyp2c9", cyp2c9_name(p.cyp2c9)}, {"vkorc1", vkorc1_name(p.vkorc1)},
      {"vkorc1_imputed", p.vkorc1_imputed}, {"amiodarone", p.amiodarone},      {"enzyme_inducer", p.enzyme_inducer}};
  return j;
}

}  // namespace medai::dosing
