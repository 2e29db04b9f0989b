#include "medai/glucose/patient_model.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "medai/core/error.h"
#include "medai/io/csv.h"

namespace medai::glucose {

namespace {

// simglucose's parameter table, header and the adolescent#001 row (MIT, Jinyu Xie 2017).
constexpr const char* kDefaultTable =
    "Name,i,x0_ 1,x0_ 2,x0_ 3,x0_ 4,x0_ 5,x0_ 6,x0_ 7,x0_ 8,x0_ "
    "9,x0_10,x0_11,x0_12,x0_13,BW,EGPb,Gb,Ib,kabs,kmax,kmin,b,d,Vg,Vi,Ipb,Vmx,Km0,k2,k1,p2u,m1,m5,CL,HEb,m2,m4,m30,Ilb,"
    "ki,kp2,kp3,f,Gpb,ke1,ke2,Fsnc,Gtb,Vm0,Rdb,PCRb,kd,ksc,ka1,ka2,dosekempt,u2ss,isc1ss,isc2ss,kp1,patient_history\n"
    "adolescent#001,1,0,0,0,250.621836,176.506559902,4.697517762,0,97.554,97.554,3.19814917262,57.951224472,93."
    "2258828462,250.621836,68.706,3.3924,149.02,97.554,0.091043,0.015865,0.0083338,0.83072,0.32294,1.6818,0.048153,4."
    "697517762,0.074667,260.89,0.067738,0.057252,0.021344,0.15221,0.029902,0.8571,0.6,0.259067825939,0.103627130376,0."
    "228315,3.19814917262,0.0088838,0.023318,0.023253,0.9,250.621836,0.0005,339,1,176.506559902,5.92854753098,3.3924,0."
    "0227647295665,0.0185,0.056,0.0025,0.0115,90000,1.21697571391,57.951224472,93.2258828462,11.5048231338,0\n";

PatientParams from_row(const io::CsvTable& t, size_t r) {
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < t.header.size(); ++i) {
    std::string k = t.header[i];
    k.erase(std::remove(k.begin(), k.end(), ' '), k.end());  // "x0_ 1" -> "x0_1"
    col[k] = i;
  }
  const auto& row = t.rows[r];
  auto get = [&](const std::string& k) {
    auto it = col.find(k);
    if (it == col.end()) fail_invalid(t.source.string() + ": missing column '" + k + "'");
    try {
      return std::stod(row[it->second]);
    } catch (const std::exception&) {
      fail_invalid(t.source.string() + ": line " + std::to_string(r + 2) + ", column '" + k + "': not a number");
    }
  };
  PatientParams p;
  p.name = row[col.at("Name")];
  for (int i = 0; i < 13; ++i) p.x0[i] = get("x0_" + std::to_string(i + 1));
#define MEDAI_P(n) p.n = get(#n)
  MEDAI_P(BW);
  MEDAI_P(EGPb);
  MEDAI_P(Gb);
  MEDAI_P(Ib);
  MEDAI_P(kabs);
  MEDAI_P(kmax);
  MEDAI_P(kmin);
  MEDAI_P(b);
  MEDAI_P(d);
  MEDAI_P(Vg);
  MEDAI_P(Vi);
  MEDAI_P(Vmx);
  MEDAI_P(Km0);
  MEDAI_P(k2);
  MEDAI_P(k1);
  MEDAI_P(p2u);
  MEDAI_P(m1);
  MEDAI_P(m2);
  MEDAI_P(m4);
  MEDAI_P(m30);
  MEDAI_P(ki);
  MEDAI_P(kp1);
  MEDAI_P(kp2);
  MEDAI_P(kp3);
  MEDAI_P(f);
  MEDAI_P(ke1);
  MEDAI_P(ke2);
  MEDAI_P(Fsnc);
  MEDAI_P(Vm0);
  MEDAI_P(kd);
  MEDAI_P(ksc);
  MEDAI_P(ka1);
  MEDAI_P(ka2);
  MEDAI_P(u2ss);
#undef MEDAI_P
  if (!(p.BW > 0) || !(p.Vg > 0) || !(p.Vi > 0))
    fail_invalid(t.source.string() + ": patient " + p.name + " has a non-positive BW, Vg or Vi");
  return p;
}

PatientParams find(const io::CsvTable& t, const std::string& name) {
  size_t nc = t.column("Name");
  std::string known;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (t.rows[r][nc] == name) return from_row(t, r);
    known += (known.empty() ? "" : ", ") + t.rows[r][nc];
  }
  fail_invalid(t.source.string() + ": unknown patient '" + name + "' (known: " + known + ")");
}

}  // namespace

PatientParams load_patient(const std::filesystem::path& csv, const std::string& name) {
  return find(io::read_csv(csv), name);
}

std::vector<std::string> patient_names(const std::filesystem::path& csv) {
  io::CsvTable t = io::read_csv(csv);
  std::vector<std::string> out;
  for (const auto& row : t.rows) out.push_back(row[t.column("Name")]);
  return out;
}

PatientParams default_patient() {
  return find(io::parse_csv(kDefaultTable, "built-in patient table"), "adolescent#001");
}

PatientModel::PatientModel(PatientParams params) : p_(std::move(params)), x_(p_.x0) {}

std::array<double, 13> PatientModel::derivative(const std::array<double, 13>& x, double cho, double insulin_u) const {
  const PatientParams& p = p_;
  std::array<double, 13> dx{};
  const double d = cho * 1000;                     // g/min -> mg/min
  const double insulin = insulin_u * 6000 / p.BW;  // U/min -> pmol/kg/min
  const double qsto = x[0] + x[1];
  const double dbar = last_qsto_ + last_foodtaken_ * 1000;  // mg
  dx[0] = -p.kmax * x[0] + d;                               // stomach, solid
  double kgut = p.kmax;
  if (dbar > 0) {  // gastric emptying slows with the meal's size (Dalla Man 2007)
    double aa = 5 / (2 * dbar * (1 - p.b)), cc = 5 / (2 * dbar * p.d);
    kgut = p.kmin +
           (p.kmax - p.kmin) / 2 * (std::tanh(aa * (qsto - p.b * dbar)) - std::tanh(cc * (qsto - p.d * dbar)) + 2);
  }
  dx[1] = p.kmax * x[0] - x[1] * kgut;  // stomach, liquid
  dx[2] = kgut * x[1] - p.kabs * x[2];  // gut
  const double ra = p.f * p.kabs * x[2] / p.BW;
  const double egp = p.kp1 - p.kp2 * x[3] - p.kp3 * x[8];
  const double et = x[3] > p.ke2 ? p.ke1 * (x[3] - p.ke2) : 0.0;  // renal excretion
  dx[3] = std::max(egp, 0.0) + ra - p.Fsnc - et - p.k1 * x[3] + p.k2 * x[4];
  dx[3] = x[3] >= 0 ? dx[3] : 0;
  const double vmt = p.Vm0 + p.Vmx * x[6];
  const double uid = vmt * x[4] / (p.Km0 + x[4]);
  dx[4] = -uid + p.k1 * x[3] - p.k2 * x[4];
  dx[4] = x[4] >= 0 ? dx[4] : 0;
  dx[5] = -(p.m2 + p.m4) * x[5] + p.m1 * x[9] + p.ka1 * x[10] + p.ka2 * x[11];  // plasma insulin
  const double it = x[5] / p.Vi;
  dx[5] = x[5] >= 0 ? dx[5] : 0;
  dx[6] = -p.p2u * x[6] + p.p2u * (it - p.Ib);  // insulin action on utilisation
  dx[7] = -p.ki * (x[7] - it);                  // insulin action on production
  dx[8] = -p.ki * (x[8] - x[7]);
  dx[9] = -(p.m1 + p.m30) * x[9] + p.m2 * x[5];  // liver insulin
  dx[9] = x[9] >= 0 ? dx[9] : 0;
  dx[10] = insulin - (p.ka1 + p.kd) * x[10];  // subcutaneous insulin
  dx[10] = x[10] >= 0 ? dx[10] : 0;
  dx[11] = p.kd * x[10] - p.ka2 * x[11];
  dx[11] = x[11] >= 0 ? dx[11] : 0;
  dx[12] = -p.ksc * x[12] + p.ksc * x[3];  // subcutaneous glucose
  dx[12] = x[12] >= 0 ? dx[12] : 0;
  return dx;
}

void PatientModel::step(double announced, double insulin) {
  if (!std::isfinite(announced) || announced < 0) fail_invalid("carbs must be a non-negative number of grams");
  if (!std::isfinite(insulin) || insulin < 0) fail_invalid("insulin must be a non-negative rate in U/min");
  // Meals are eaten at 5 g/min (simglucose's _announce_meal).
  planned_meal_ += announced;
  const double cho = std::min(kEatRate, planned_meal_);
  planned_meal_ = std::max(0.0, planned_meal_ - kEatRate);
  if (cho > 0 && last_cho_ <= 0) {  // a meal starts: remember what the stomach held
    last_qsto_ = x_[0] + x_[1];
    last_foodtaken_ = 0;
  }
  if (cho > 0) last_foodtaken_ += cho;
  last_cho_ = cho;

  // Dormand-Prince 5(4) with error control over [t, t + 1 min].
  static constexpr double c[7] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
  static constexpr double a[7][6] = {{0},
                                     {1.0 / 5},
                                     {3.0 / 40, 9.0 / 40},
                                     {44.0 / 45, -56.0 / 15, 32.0 / 9},
                                     {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
                                     {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
                                     {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
  static constexpr double e[7] = {35.0 / 384 - 5179.0 / 57600,
                                  0,
                                  500.0 / 1113 - 7571.0 / 16695,
                                  125.0 / 192 - 393.0 / 640,
                                  -2187.0 / 6784 + 92097.0 / 339200,
                                  11.0 / 84 - 187.0 / 2100,
                                  -1.0 / 40};
  constexpr double kRtol = 1e-9, kAtol = 1e-9;
  (void)c;
  double remaining = 1.0;
  int guard = 0;
  while (remaining > 1e-12) {
    if (++guard > 100000) throw Error(ErrorCode::Internal, "patient ODE integration did not converge");
    double h = std::min(h_, remaining);
    std::array<std::array<double, 13>, 7> k;
    k[0] = derivative(x_, cho, insulin);
    std::array<double, 13> y;
    for (int s = 1; s < 7; ++s) {
      for (int i = 0; i < 13; ++i) {
        double acc = 0;
        for (int j = 0; j < s; ++j) acc += a[s][j] * k[j][i];
        y[i] = x_[i] + h * acc;
      }
      k[s] = derivative(y, cho, insulin);
    }
    double err = 0;
    for (int i = 0; i < 13; ++i) {
      double ei = 0;
      for (int s = 0; s < 7; ++s) ei += e[s] * k[s][i];
      double sc = kAtol + kRtol * std::max(std::fabs(x_[i]), std::fabs(y[i]));
      err += (h * ei / sc) * (h * ei / sc);
    }
    err = std::sqrt(err / 13);
    if (err <= 1.0) {
      x_ = y;  // 5th-order solution (the last stage is evaluated at it)
      remaining -= h;
      t_ += h;
    }
    double factor = err == 0 ? 5.0 : std::clamp(0.9 * std::pow(err, -0.2), 0.2, 5.0);
    h_ = std::clamp(h * factor, 1e-6, 1.0);
  }
  t_ = std::round(t_);
}

}  // namespace medai::glucose
