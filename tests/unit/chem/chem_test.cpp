// The RDKit bridge against python3-rdkit's answers (same RDKit 2022.09 underneath: values from
// Chem.MolToSmiles, GetMorganFingerprintAsBitVect, MurckoScaffoldSmiles, rdMolDescriptors.Properties
// and FilterCatalog), the dataset reader's per-row errors, DeepChem's scaffold split on a hand-made
// set, and the D-MPNN and SMILES language model learning something small.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "medai/bridges/rdkit/chem.h"
#include "medai/chem/mol_data.h"
#include "medai/chem/mol_model.h"
#include "medai/chem/smiles_lm.h"
#include "medai/core/error.h"
#include "support/test_support.h"

namespace medai {
namespace {

namespace bc = bridges::chem;
namespace fs = std::filesystem;

bc::Molecule mol(const std::string& s) {
  auto m = bc::parse_smiles(s);
  EXPECT_TRUE(m.has_value()) << s;
  return *m;
}

TEST(ChemBridge, ParsesCanonicalisesAndRefusesWithReasons) {
  EXPECT_EQ(bc::canonical_smiles(mol("OC(=O)c1ccccc1OC(C)=O")), "CC(=O)Oc1ccccc1C(=O)O");
  std::string why;
  EXPECT_FALSE(bc::parse_smiles("C1CC", &why));
  EXPECT_NE(why.find("SMILES"), std::string::npos) << why;
  EXPECT_FALSE(bc::parse_smiles("CN(C)(C)(C)C", &why));  // pentavalent nitrogen
  EXPECT_NE(why.find("valence"), std::string::npos) << why;
  EXPECT_FALSE(bc::parse_smiles("", &why));
  EXPECT_EQ(why, "empty SMILES");
}

TEST(ChemBridge, FingerprintsDescriptorsScaffoldsAlertsAsPythonRdkit) {
  const auto aspirin = mol("CC(=O)Oc1ccccc1C(=O)O"), ibuprofen = mol("CC(C)Cc1ccc(cc1)C(C)C(=O)O");
  const auto fp = bc::morgan_fingerprint(aspirin);
  EXPECT_EQ(fp.count(), 24);
  EXPECT_TRUE(fp.test(389) && fp.test(456) && fp.test(650));
  EXPECT_NEAR(bc::tanimoto(fp, bc::morgan_fingerprint(ibuprofen)), 0.1951219512195122, 1e-12);
  ASSERT_EQ(bc::descriptor_names().size(), 43u);
  const auto d = bc::descriptors(aspirin);
  const auto at = [&](const std::string& n) {
    const auto& names = bc::descriptor_names();
    return d[static_cast<size_t>(std::find(names.begin(), names.end(), n) - names.begin())];
  };
  EXPECT_NEAR(at("tpsa"), 63.6, 1e-9);
  EXPECT_NEAR(at("exactmw"), 180.042258736, 1e-6);
  EXPECT_EQ(bc::murcko_scaffold(mol("O=C(O)[C@@H]1CCCN1C(=O)c1ccc2ccccc2c1")), "O=C(c1ccc2ccccc2c1)N1CCCC1");
  EXPECT_EQ(bc::murcko_scaffold(mol("CCCCO")), "");
  const auto alerts = bc::structural_alerts(mol("S=C1SC(=Cc2ccccc2)C(=O)N1"));
  ASSERT_FALSE(alerts.empty());
  EXPECT_EQ(alerts[0].catalog, "PAINS");
  EXPECT_EQ(alerts[0].description, "ene_rhod_A(235)");
  EXPECT_NE(bc::depict_svg(aspirin, std::vector<double>(13, 0.5)).find("<svg"), std::string::npos);
  EXPECT_EQ(bc::depict_png(aspirin).substr(1, 3), "PNG");
}

TEST(ChemBridge, GraphHasChempropFeaturesAndPairedDirectedBonds) {
  const auto g = bc::molecular_graph(mol("CC(=O)O"));
  EXPECT_EQ(g.atoms, 4);
  EXPECT_EQ(g.atom_features.size(), 4u * bc::kAtomFeatures);
  ASSERT_EQ(g.bond_from.size(), 6u);
  for (size_t b = 0; b < 6; b += 2) EXPECT_EQ(g.bond_from[b], g.bond_to[b + 1]);
  EXPECT_EQ(g.atom_features[5], 1.0f);  // atom 0 is carbon: one-hot slot 5 (atomic number 6)
  EXPECT_EQ(g.bond_features.size(), 6u * bc::kBondFeatures);
  EXPECT_EQ(g.bond_features[bc::kBondFeatures * 2 + 1], 1.0f);  // bond 1 (C=O) is double
}

fs::path write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
  return p;
}

TEST(MolData, ReportsBadRowsAndRefusesBadLabels) {
  test::TempDir dir;
  const auto ok = write(dir / "a.csv", "smiles,tox,sol\nCCO,0,1.5\nC1CC,1,2\nc1ccccc1,,0.3\nCCN,1,\n");
  const auto d = chem::read_mol_dataset(ok, {"smiles", "tox", "auto", true});
  EXPECT_EQ(d.type, chem::TaskType::Classification);
  ASSERT_EQ(d.size(), 3u);
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0].line, 3u);
  EXPECT_TRUE(std::isnan(d.label(1, 0)));
  EXPECT_EQ(chem::read_mol_dataset(ok, {"smiles", "sol", "auto", true}).type, chem::TaskType::Regression);
  const auto expect_error = [&](const std::string& text, const std::string& task, const std::string& needle) {
    try {
      chem::read_mol_dataset(write(dir / "b.csv", text), {"smiles", task, "classification", true});
      ADD_FAILURE() << "no error for " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("smiles,y\nCCO,2\n", "y", "b.csv:2: column 'y': label '2' is not 0/1");
  expect_error("smiles,y\nCCO,\nCCC,\n", "y", "task column 'y' has no label");
  expect_error("smiles,y\n", "y", "no data rows");
  expect_error("smiles,y\nCCO,1\n", "z", "z");
  expect_error("smiles,y\nXX,1\n", "y", "no SMILES");
}

TEST(MolData, ScaffoldSplitFollowsDeepChem) {
  test::TempDir dir;
  // Scaffolds: benzene x4 (rows 0-3), cyclohexane x2 (4, 5), pyridine (6), acyclic x3 (7-9).
  const auto f =
      write(dir / "s.csv",
            "smiles\nc1ccccc1C\nc1ccccc1O\nc1ccccc1N\nc1ccccc1CC\nC1CCCCC1C\nC1CCCCC1O\nc1ccncc1\nCCO\nCCC\nCCN\n");
  const auto d = chem::read_mol_dataset(f, {"smiles", "", "auto", false});
  const auto p = chem::scaffold_split(d, 0.5, 0.2);
  // Sets by (size, first index) descending: benzene(4), acyclic(3, first 7), cyclohexane(2), pyridine(1).
  // Train cut 5: benzene fits (4), acyclic would make 7 > 5 -> valid cut 7: 4 + 0 + 3 = 7 fits -> valid;
  // cyclohexane 4 + 3 + 2 > 7 -> test; pyridine 4 + 1 = 5 fits train.
  const std::vector<int> want = {0, 0, 0, 0, 2, 2, 0, 1, 1, 1};
  EXPECT_EQ(p, want);
}

TEST(MolModel, DmpnnAndTreesLearnASimpleRule) {
  test::TempDir dir;
  // Label: the molecule holds nitrogen.
  std::string csv = "smiles,has_n\n";
  const char* cores[] = {"c1ccccc1", "C1CCCCC1", "CCCC", "c1ccc2ccccc2c1", "C1CCOC1"};
  const char* with_n[] = {"N", "C#N", "NC", "N(C)C"};
  const char* without[] = {"O", "C", "Cl", "OC"};
  for (const char* c : cores)
    for (int k = 0; k < 4; ++k) {
      csv += std::string(c) + with_n[k] + ",1\n";
      csv += std::string(c) + without[k] + ",0\n";
    }
  const auto d = chem::read_mol_dataset(write(dir / "n.csv", csv), {"smiles", "has_n", "auto", true});
  chem::MolModelOptions o;
  o.epochs = 30, o.ensemble = 2, o.hidden = 32, o.ffn_hidden = 32, o.batch_size = 8, o.progress = false;
  o.descriptors = false, o.model = "dmpnn";
  const auto m = chem::MolModel::train(d, d, o);
  const auto j = chem::evaluate_predictions(d, m.predict(d.molecules));
  EXPECT_GT(j["mean_auroc"].get<double>(), 0.95) << j.dump();
  m.save(dir / "run");
  const auto back = chem::MolModel::load(dir / "run");
  const auto a = m.predict(d.molecules), b = back.predict(d.molecules);
  for (size_t i = 0; i < a.mean.size(); ++i) EXPECT_NEAR(a.mean[i], b.mean[i], 1e-6);
  EXPECT_NEAR(back.nearest_training_similarity({d.molecules[0]})[0], 1.0, 1e-12);
  const auto w = back.atom_contributions(d.molecules[0], 0);
  EXPECT_EQ(w.size(), static_cast<size_t>(d.molecules[0].atoms()));
  o.model = "xgb-ecfp", o.trees.rounds = 30;
  const auto t = chem::MolModel::train(d, d, o);
  EXPECT_GT(chem::evaluate_predictions(d, t.predict(d.molecules))["mean_auroc"].get<double>(), 0.9);
  o.model = "ensemble";
  const auto e = chem::MolModel::train(d, d, o);
  e.save(dir / "blend");
  const auto eb = chem::MolModel::load(dir / "blend");
  EXPECT_EQ(eb.describe()["network_weight"], e.describe()["network_weight"]);
  const auto pa = e.predict(d.molecules), pb = eb.predict(d.molecules);
  for (size_t i = 0; i < pa.mean.size(); ++i) EXPECT_NEAR(pa.mean[i], pb.mean[i], 1e-6);
}

TEST(SmilesLm, TokenisesAndScoresGenerations) {
  EXPECT_EQ(chem::tokenize_smiles("Cl[nH]ClBr%12c1")[0], "Cl");
  EXPECT_EQ(chem::tokenize_smiles("[nH]1cc%12Br"), (std::vector<std::string>{"[nH]", "1", "c", "c", "%12", "Br"}));
  const auto j = chem::generation_metrics({"CCO", "OCC", "C1CC", "c1ccccc1", "CCN"}, {"CCO", "CCC"});
  EXPECT_DOUBLE_EQ(j["validity"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(j["uniqueness"].get<double>(), 0.75);      // CCO twice
  EXPECT_NEAR(j["novelty"].get<double>(), 2.0 / 3.0, 1e-12);  // CCO is in training
  EXPECT_TRUE(j.contains("internal_diversity"));
  EXPECT_GE(j["frechet_descriptor_distance"].get<double>(), 0.0);
}

}  // namespace
}  // namespace medai
