#pragma once
// The chemistry engine: RDKit's C++ library (Debian librdkit-dev) behind one header. The only code
// in medai that includes RDKit, so a swap of toolkit touches this folder alone. Molecules are
// opaque, immutable and cheap to copy; everything RDKit computes comes back as plain data.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace medai::bridges::chem {

class Molecule {
 public:
  struct Impl;
  explicit Molecule(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const { return *impl_; }
  int atoms() const;  // heavy atoms (hydrogens implicit)

 private:
  std::shared_ptr<const Impl> impl_;
};

// Parses and sanitises a SMILES (RDKit's default sanitisation, as Chem.MolFromSmiles). On failure
// nothing is returned and `error` (when given) says why: a syntax error, or the sanitisation
// message (e.g. a valence above what the element permits). An empty string is an error.
std::optional<Molecule> parse_smiles(const std::string& smiles, std::string* error = nullptr);
// RDKit's canonical isomeric SMILES (Chem.MolToSmiles).
std::string canonical_smiles(const Molecule& mol);

// Bit vectors packed into 64-bit words (bit i in words[i / 64], 1 << (i % 64)).
struct Fingerprint {
  int bits = 0;
  std::vector<uint64_t> words;
  bool test(int i) const { return (words[static_cast<size_t>(i) / 64] >> (i % 64)) & 1u; }
  int count() const;
};
// Morgan / ECFP bits (radius 2 = ECFP4), as AllChem.GetMorganFingerprintAsBitVect(mol, r, nBits).
Fingerprint morgan_fingerprint(const Molecule& mol, int radius = 2, int bits = 2048);
double tanimoto(const Fingerprint& a, const Fingerprint& b);

// RDKit's 2D molecular descriptors (RDKit::Descriptors::Properties: weights, logP, TPSA, H-bond
// donors/acceptors, ring and atom counts, shape indices...), in descriptor_names() order.
const std::vector<std::string>& descriptor_names();
std::vector<double> descriptors(const Molecule& mol);

// The Bemis-Murcko scaffold as non-isomeric canonical SMILES, as RDKit's
// MurckoScaffold.MurckoScaffoldSmiles(mol=m, includeChirality=False); "" for acyclic molecules.
std::string murcko_scaffold(const Molecule& mol);

// The molecular graph with Chemprop's (v1) atom and bond features: atom = one-hot atomic number
// (1..100, other), degree (0..5), formal charge (-1,-2,1,2,0), chiral tag (0..3), total H (0..4),
// hybridisation (sp..sp3d2), each with an "other" slot, aromatic, mass / 100; bond = type
// (single, double, triple, aromatic), conjugated, in ring, stereo (0..5, other). Bonds are
// directed: bond 2k is bond k from its begin atom to its end atom, 2k + 1 the reverse.
constexpr int kAtomFeatures = 133, kBondFeatures = 13;
struct MolGraph {
  int atoms = 0;
  std::vector<float> atom_features;  // atoms x kAtomFeatures
  std::vector<int32_t> bond_from, bond_to;
  std::vector<float> bond_features;  // directed bonds x kBondFeatures
};
MolGraph molecular_graph(const Molecule& mol);

// Structural alerts from RDKit's FilterCatalog: PAINS (A, B, C) and Brenk's unwanted groups.
struct Alert {
  std::string catalog;      // "PAINS" | "Brenk"
  std::string description;  // the filter's name, e.g. "quinone_A(370)"
};
std::vector<Alert> structural_alerts(const Molecule& mol);

// A 2D depiction. Atoms with a weight are shaded: positive red, negative blue, opacity by
// |weight| / max |weight| (per-atom contributions to a prediction); empty weights: plain drawing.
std::string depict_svg(const Molecule& mol, const std::vector<double>& atom_weights = {}, int width = 320,
                       int height = 260, const std::string& legend = "");
std::string depict_png(const Molecule& mol, const std::vector<double>& atom_weights = {}, int width = 320,
                       int height = 260, const std::string& legend = "");

std::string rdkit_version();

}  // namespace medai::bridges::chem
