#pragma once
// The UVA/Padova type 1 diabetes patient (Dalla Man et al. 2007 meal model; Kovatchev et al.
// 2009) as the open-source simglucose implements it: 13 states, meal-size-dependent gastric
// emptying, meals eaten at 5 g/min, insulin in U/min, one-minute steps integrated with an
// adaptive Dormand-Prince 5(4) method. Plain C++: no libtorch.
#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace medai::glucose {

// Model constants of one virtual patient (simglucose's vpatient_params.csv).
struct PatientParams {
  std::string name;
  std::array<double, 13> x0{};  // initial (steady) state
  double BW = 0, EGPb = 0, Gb = 0, Ib = 0, kabs = 0, kmax = 0, kmin = 0, b = 0, d = 0, Vg = 0, Vi = 0, Vmx = 0, Km0 = 0,
         k2 = 0, k1 = 0, p2u = 0, m1 = 0, m2 = 0, m4 = 0, m30 = 0, ki = 0, kp1 = 0, kp2 = 0, kp3 = 0, f = 0, ke1 = 0,
         ke2 = 0, Fsnc = 0, Vm0 = 0, kd = 0, ksc = 0, ka1 = 0, ka2 = 0, u2ss = 0;
  // Basal insulin rate that keeps the patient at steady state, U/min.
  double basal_u_per_min() const { return u2ss * BW / 6000.0; }
};

// Reads one patient by name (e.g. "adolescent#001") from a simglucose parameter table;
// an unknown name is an InvalidInput error listing the names the file has.
PatientParams load_patient(const std::filesystem::path& csv, const std::string& name);
std::vector<std::string> patient_names(const std::filesystem::path& csv);
// adolescent#001 from simglucose's table (MIT), built in so the simulator runs without files.
PatientParams default_patient();

class PatientModel {
 public:
  static constexpr double kEatRate = 5.0;  // g/min
  static constexpr int kStates = 13;
  explicit PatientModel(PatientParams params);

  // Advances one minute. `announced_carbs_g`: a meal announced now (eaten at 5 g/min over the
  // following minutes); `insulin_u_per_min`: the insulin rate delivered during this minute.
  void step(double announced_carbs_g, double insulin_u_per_min);
  // Blood glucose as simglucose observes it: subcutaneous glucose / Vg, mg/dL.
  double bg_mgdl() const { return x_[12] / p_.Vg; }
  const std::array<double, kStates>& state() const { return x_; }
  double carbs_eaten_last_minute() const { return last_cho_; }  // g/min
  double minute() const { return t_; }
  const PatientParams& params() const { return p_; }

  // The right-hand side of the ODE (exposed for tests): dx/dt given the inputs of this minute.
  std::array<double, kStates> derivative(const std::array<double, kStates>& x, double cho_g_per_min,
                                         double insulin_u_per_min) const;

 private:
  PatientParams p_;
  std::array<double, kStates> x_;
  double t_ = 0;
  double planned_meal_ = 0, last_cho_ = 0, last_qsto_ = 0, last_foodtaken_ = 0;
  double h_ = 0.1;  // integrator step carried between minutes
};

}  // namespace medai::glucose
