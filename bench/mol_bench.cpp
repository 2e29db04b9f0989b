// The native side of bench/run_mol_bench.sh.
//   mol_bench featurize CSV SMILES_COL THREADS: parse + canonical SMILES + ECFP4 (2048) + RDKit
//     descriptors + Chemprop graph per molecule, on THREADS threads; {"molecules","seconds"}.
//   mol_bench train CSV SMILES_COL EPOCHS: a D-MPNN (300 hidden, depth 3, no descriptors, batch 50)
//     on every task column for EPOCHS epochs (10 % held back for validation each epoch), the whole
//     MolModel::train call timed (featurisation included); {"molecules","epochs","seconds"}.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "medai/bridges/rdkit/chem.h"
#include "medai/chem/mol_data.h"
#include "medai/chem/mol_model.h"
#include "medai/core/runtime.h"

using namespace medai;
namespace bc = bridges::chem;

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: mol_bench featurize|train CSV SMILES_COL THREADS|EPOCHS\n");
    return 2;
  }
  const std::string mode = argv[1], col = argv[3];
  const int k = std::stoi(argv[4]);
  core::init_runtime({mode == "featurize" ? k : 0, false, true});
  if (mode == "featurize") {
    const auto t = chem::read_mol_dataset(argv[2], {col, "", "auto", false});  // warm the file cache, count
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<size_t> bits(t.size());
    core::parallel_for(t.size(), [&](size_t i) {
      const auto m = bc::parse_smiles(t.smiles[i]);
      if (!m) return;
      const auto c = bc::canonical_smiles(*m);
      const auto fp = bc::morgan_fingerprint(*m, 2, 2048);
      const auto d = bc::descriptors(*m);
      const auto g = bc::molecular_graph(*m);
      bits[i] = c.size() + static_cast<size_t>(fp.count()) + d.size() + g.bond_from.size();
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"molecules\": %zu, \"seconds\": %.4f}\n", t.size(), s);
    return 0;
  }
  const auto d = chem::read_mol_dataset(argv[2], {col, "all", "auto", true});
  chem::MolModelOptions o;
  o.epochs = k, o.ensemble = 1, o.patience = 1000, o.descriptors = false, o.dropout = 0.0, o.progress = false;
  const auto t0 = std::chrono::steady_clock::now();
  const auto m = chem::MolModel::train(d, {}, o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"molecules\": %zu, \"epochs\": %d, \"seconds\": %.4f}\n", d.size() - d.size() / 10, k, s);
  return 0;
}
