#pragma once
// Molecule design: a SMILES language model (token-level LSTM, as MOSES's CharRNN and REINVENT's
// prior) trained on a dataset's molecules; sampling with MOSES-style metrics; and REINVENT-style
// goal-directed optimisation (Olivecrona et al. 2017): the agent, started from the prior, is
// pulled towards log P_prior(x) + sigma * score(x), so it climbs the score without forgetting
// what molecules look like. Header free of libtorch.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace medai::chem {

// SMILES tokens: bracket atoms ([nH], [C@@H]), two-letter elements (Cl, Br), ring closures %NN,
// then single characters.
std::vector<std::string> tokenize_smiles(const std::string& smiles);

struct LmOptions {
  int embedding = 128, hidden = 512, layers = 2;
  double dropout = 0.1, lr = 1e-3;
  int epochs = 20, patience = 4, batch_size = 128;
  int max_tokens = 100;  // longer training SMILES are left out; sampling stops there
  double validation_fraction = 0.05;
  uint64_t seed = 1;
  bool progress = true;
};

struct Sample {
  std::vector<std::string> smiles;  // decoded (may not parse)
  std::vector<double> log_likelihood;
};

class SmilesLm {
 public:
  SmilesLm();
  ~SmilesLm();
  SmilesLm(SmilesLm&&) noexcept;
  SmilesLm& operator=(SmilesLm&&) noexcept;

  // `smiles` should be canonical (one spelling per molecule); they are also kept for novelty.
  static SmilesLm train(const std::vector<std::string>& smiles, const LmOptions& options);
  // Seeds libtorch's generator with `seed` first (a sampling run is reproducible).
  Sample sample(int n, double temperature = 1.0, uint64_t seed = 1) const;
  const std::vector<std::string>& training_smiles() const;

  struct OptimizeOptions {
    int steps = 150, batch_size = 64;
    double sigma = 60, lr = 5e-4;
    int repeats = 1;  // diversity filter: a molecule is rewarded this many times, then scores 0
    bool progress = true;
  };
  struct StepRecord {
    int step = 0;
    double mean_score = 0, validity = 0, loss = 0;
  };
  // REINVENT: returns the agent (a copy of this prior, trained); `score` maps SMILES to [0, 1]
  // (invalid SMILES: 0). `history` gets one record per step.
  SmilesLm optimize(const std::function<std::vector<double>(const std::vector<std::string>&)>& score,
                    const OptimizeOptions& options, std::vector<StepRecord>* history) const;

  nlohmann::json describe() const;
  void save(const std::filesystem::path& dir) const;
  static SmilesLm load(const std::filesystem::path& dir);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// MOSES-style metrics of generated SMILES against the training molecules: validity (parse),
// uniqueness (distinct canonical among valid), novelty (unique valid not in training),
// internal diversity (1 - mean pairwise ECFP4 Tanimoto among unique valid, up to 1,000),
// and the Frechet distance between Gaussians fitted to the standardised RDKit descriptors of the
// generated and the training molecules (a descriptor analogue of FCD; 0 = same distribution).
nlohmann::json generation_metrics(const std::vector<std::string>& generated, const std::vector<std::string>& training);

}  // namespace medai::chem
