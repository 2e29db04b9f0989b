// Times medai's Cox fit alone (the CSV read and coded first, untimed, as R's system.time(coxph())
// times only the fit): prints {"read_seconds","fit_seconds","n","p","coefficients":{...}} with
// the median fit time of --rounds fits.
//   survival_bench --data CSV --covariates a,b,... [--time time] [--event status] [--rounds 3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medai/io/csv.h"
#include "medai/survival/cox.h"
#include "medai/survival/survival_data.h"

int main(int argc, char** argv) {
  std::string data, covariates, time = "time", event = "status";
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--data") data = value;
    else if (flag == "--covariates") covariates = value;
    else if (flag == "--time") time = value;
    else if (flag == "--event") event = value;
    else if (flag == "--rounds") rounds = std::stoi(value);
  }
  if (data.empty() || covariates.empty()) {
    std::fprintf(stderr, "usage: survival_bench --data CSV --covariates a,b,... [--rounds N]\n");
    return 2;
  }
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const auto table = medai::io::read_csv(data);
  const auto d = medai::survival::read_survival_data(
      table, {time, event, medai::survival::split_names(covariates, "--covariates")});
  const double read_s = std::chrono::duration<double>(clock::now() - t0).count();
  std::vector<double> fits;
  medai::survival::CoxModel m;
  for (int r = 0; r < rounds; ++r) {
    const auto s = clock::now();
    m = medai::survival::fit_cox(d);
    fits.push_back(std::chrono::duration<double>(clock::now() - s).count());
  }
  std::sort(fits.begin(), fits.end());
  nlohmann::json coefficients;
  for (size_t j = 0; j < m.coef.size(); ++j) coefficients[m.names[j]] = m.coef[j];
  std::printf("%s\n", nlohmann::json{{"read_seconds", read_s},
                                     {"fit_seconds", fits[fits.size() / 2]},
                                     {"n", d.n()},
                                     {"p", d.p()},
                                     {"iterations", m.iterations},
                                     {"coefficients", coefficients}}
                          .dump()
                          .c_str());
}
