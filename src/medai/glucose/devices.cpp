#include "medai/glucose/devices.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "medai/core/error.h"
#include "medai/io/csv.h"

namespace medai::glucose {

namespace {

const std::vector<std::string>& row_of(const io::CsvTable& t, const std::string& name, const char* what) {
  size_t nc = t.column("Name");
  std::string known;
  for (const auto& row : t.rows) {
    if (row[nc] == name) return row;
    known += (known.empty() ? "" : ", ") + row[nc];
  }
  fail_invalid(t.source.string() + ": unknown " + what + " '" + name + "' (known: " + known + ")");
}

double num(const io::CsvTable& t, const std::vector<std::string>& row, const std::string& col) {
  const std::string& s = row[t.column(col)];
  const double v = io::parse_number(s).value_or(std::numeric_limits<double>::quiet_NaN());
  if (!std::isfinite(v))
    fail_invalid(t.source.string() + ": field '" + col + "' of " + row[t.column("Name")] + ": '" + s +
                 "' is not a finite number");
  return v;
}

constexpr const char* kSensorTable =
    "Name,PACF,gamma,lambda,delta,xi,sample_time,min,max\n"
    "Dexcom,0.7,-0.5444,15.9574,1.6898,-5.47,3.0,39.0,600.0\n";
constexpr const char* kPumpTable =
    "Name,min_bolus,max_bolus,inc_bolus,min_basal,max_basal,inc_basal,sample_time\n"
    "Insulet,0.0,30.0,0.05,0.0,30.0,0.05,1.0\n";
constexpr const char* kQuestTable = "Name,CR,CF,Age,TDI\nadolescent#001,12,15.0360283441,18,36.7339146827\n";

SensorParams sensor_from(const io::CsvTable& t, const std::string& name) {
  const auto& r = row_of(t, name, "sensor");
  SensorParams p;
  p.name = name;
  p.pacf = num(t, r, "PACF");
  p.gamma = num(t, r, "gamma");
  p.lambda = num(t, r, "lambda");
  p.delta = num(t, r, "delta");
  p.xi = num(t, r, "xi");
  p.sample_time_min = num(t, r, "sample_time");
  p.min_mgdl = num(t, r, "min");
  p.max_mgdl = num(t, r, "max");
  if (!(p.sample_time_min >= 1) || p.sample_time_min != std::floor(p.sample_time_min) || p.sample_time_min > 15)
    fail_invalid(t.source.string() + ": sensor " + name + ": sample_time must be a whole number of minutes in 1..15");
  if (!(p.delta > 0)) fail_invalid(t.source.string() + ": sensor " + name + ": delta must be positive");
  return p;
}

PumpParams pump_from(const io::CsvTable& t, const std::string& name) {
  const auto& r = row_of(t, name, "pump");
  PumpParams p;
  p.name = name;
  p.min_bolus = num(t, r, "min_bolus");
  p.max_bolus = num(t, r, "max_bolus");
  p.inc_bolus = num(t, r, "inc_bolus");
  p.min_basal = num(t, r, "min_basal");
  p.max_basal = num(t, r, "max_basal");
  p.inc_basal = num(t, r, "inc_basal");
  if (!(p.inc_bolus > 0) || !(p.inc_basal > 0) || p.max_bolus < p.min_bolus || p.max_basal < p.min_basal)
    fail_invalid(t.source.string() + ": pump " + name + ": increments must be positive and max >= min");
  return p;
}

TherapySettings therapy_from(const io::CsvTable& t, const std::string& name) {
  const auto& r = row_of(t, name, "patient");
  TherapySettings s;
  s.name = name;
  s.carb_ratio_g_per_u = num(t, r, "CR");
  s.correction_mgdl_per_u = num(t, r, "CF");
  s.age_years = num(t, r, "Age");
  s.total_daily_insulin_u = num(t, r, "TDI");
  if (!(s.carb_ratio_g_per_u > 0) || !(s.correction_mgdl_per_u > 0))
    fail_invalid(t.source.string() + ": patient " + name + ": CR and CF must be positive");
  return s;
}

// Not-a-knot cubic spline through equally spaced points (what scipy's interp1d(kind='cubic')
// fits), evaluated at `at` (same units as the knots' spacing h, starting at 0).
std::vector<double> cubic_interp(const std::vector<double>& y, double h, const std::vector<double>& at) {
  const int n = static_cast<int>(y.size());
  // Second derivatives M solve a tridiagonal-ish system; not-a-knot ends: M0 - 2M1 + M2 = 0 and
  // likewise at the right end. Solved densely: n is 11.
  std::vector<std::vector<double>> a(n, std::vector<double>(n + 1, 0.0));
  a[0][0] = 1;
  a[0][1] = -2;
  a[0][2] = 1;
  for (int i = 1; i < n - 1; ++i) {
    a[i][i - 1] = 1;
    a[i][i] = 4;
    a[i][i + 1] = 1;
    a[i][n] = 6 * (y[i + 1] - 2 * y[i] + y[i - 1]) / (h * h);
  }
  a[n - 1][n - 3] = 1;
  a[n - 1][n - 2] = -2;
  a[n - 1][n - 1] = 1;
  for (int c = 0; c < n; ++c) {  // Gaussian elimination with partial pivoting
    int piv = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[piv][c])) piv = r;
    std::swap(a[c], a[piv]);
    for (int r = 0; r < n; ++r) {
      if (r == c || a[r][c] == 0) continue;
      double f = a[r][c] / a[c][c];
      for (int k = c; k <= n; ++k) a[r][k] -= f * a[c][k];
    }
  }
  std::vector<double> m(n);
  for (int i = 0; i < n; ++i) m[i] = a[i][n] / a[i][i];
  std::vector<double> out;
  for (double x : at) {
    int i = std::clamp(static_cast<int>(x / h), 0, n - 2);
    double t0 = i * h, t1 = t0 + h, A = (t1 - x) / h, B = (x - t0) / h;
    out.push_back(A * y[i] + B * y[i + 1] + ((A * A * A - A) * m[i] + (B * B * B - B) * m[i + 1]) * h * h / 6);
  }
  return out;
}

}  // namespace

SensorParams load_sensor(const std::filesystem::path& csv, const std::string& name) {
  return sensor_from(io::read_csv(csv), name);
}
SensorParams default_sensor() { return sensor_from(io::parse_csv(kSensorTable, "built-in sensor table"), "Dexcom"); }
PumpParams load_pump(const std::filesystem::path& csv, const std::string& name) {
  return pump_from(io::read_csv(csv), name);
}
PumpParams default_pump() { return pump_from(io::parse_csv(kPumpTable, "built-in pump table"), "Insulet"); }
TherapySettings load_therapy(const std::filesystem::path& csv, const std::string& name) {
  return therapy_from(io::read_csv(csv), name);
}
TherapySettings default_therapy() {
  return therapy_from(io::parse_csv(kQuestTable, "built-in Quest table"), "adolescent#001");
}

CgmSensor::CgmSensor(SensorParams params, uint64_t seed, bool noise)
    : p_(std::move(params)), rng_(seed), noise_(noise) {
  if (noise_) last15_ = next_noise15();
}

double CgmSensor::next_noise15() {
  e_ = count15_++ == 0 ? normal_(rng_) : p_.pacf * (e_ + normal_(rng_));
  return p_.xi + p_.lambda * std::sinh((e_ - p_.gamma) / p_.delta);
}

double CgmSensor::next_noise() {
  if (queue_.empty()) {  // ten 15-minute values (plus the last one) interpolated to the sample time
    constexpr int kPre = 10;
    constexpr double k15 = 15;
    std::vector<double> knots{last15_};
    for (int i = 0; i < kPre; ++i) knots.push_back(next_noise15());
    last15_ = knots.back();
    int n = static_cast<int>(std::floor(kPre * k15 / p_.sample_time_min)) + 1;
    std::vector<double> at;
    for (int i = 1; i < n; ++i) at.push_back(i * p_.sample_time_min);
    for (double v : cubic_interp(knots, k15, at)) queue_.push_back(v);
  }
  double v = queue_.front();
  queue_.pop_front();
  return v;
}

double CgmSensor::measure(double bg) {
  double cgm = bg + (noise_ ? next_noise() : 0.0);
  return std::clamp(cgm, p_.min_mgdl, p_.max_mgdl);
}

namespace {
constexpr double kU2Pmol = 6000;
double pump_round(double u_per_min, double inc, double lo, double hi) {
  double v = std::round(u_per_min * kU2Pmol / inc) * inc / kU2Pmol;
  return std::clamp(v, lo, hi);
}
}  // namespace

double InsulinPump::basal(double u) const { return pump_round(u, p_.inc_basal, p_.min_basal, p_.max_basal); }
double InsulinPump::bolus(double u) const { return pump_round(u, p_.inc_bolus, p_.min_bolus, p_.max_bolus); }

}  // namespace medai::glucose
