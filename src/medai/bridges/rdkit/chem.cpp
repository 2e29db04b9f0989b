#include "medai/bridges/rdkit/chem.h"

#include <DataStructs/ExplicitBitVect.h>
#include <GraphMol/ChemTransforms/ChemTransforms.h>
#include <GraphMol/Depictor/RDDepictor.h>
#include <GraphMol/Descriptors/Property.h>
#include <GraphMol/FilterCatalog/FilterCatalog.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/MolDraw2D/MolDraw2DCairo.h>
#include <GraphMol/MolDraw2D/MolDraw2DSVG.h>
#include <GraphMol/MolDraw2D/MolDraw2DUtils.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/SanitException.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <RDGeneral/RDLog.h>
#include <RDGeneral/versions.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <mutex>

namespace medai::bridges::chem {

struct Molecule::Impl {
  std::unique_ptr<RDKit::ROMol> mol;
};

namespace {

// RDKit reports parse and sanitisation problems on its own error log (stderr); medai reports
// them per row itself, so RDKit's logs are silenced once per process.
void quiet_rdkit() {
  static std::once_flag once;
  std::call_once(once, [] { boost::logging::disable_logs("rdApp.*"); });
}

const RDKit::ROMol& rd(const Molecule& m) { return *m.impl().mol; }

Molecule wrap(RDKit::ROMol* mol) {
  auto impl = std::make_shared<Molecule::Impl>();
  impl->mol.reset(mol);
  return Molecule(std::move(impl));
}

// One-hot of `value` among `choices`, with a last "other" slot.
template <typename T>
void one_hot(std::vector<float>& out, T value, const std::vector<T>& choices) {
  const size_t start = out.size();
  out.resize(start + choices.size() + 1, 0.0f);
  const auto it = std::find(choices.begin(), choices.end(), value);
  out[start + static_cast<size_t>(it - choices.begin())] = 1.0f;
}

void atom_features(std::vector<float>& f, const RDKit::Atom& a) {
  static const std::vector<int> numbers = [] {
    std::vector<int> v(100);
    for (int i = 0; i < 100; ++i) v[static_cast<size_t>(i)] = i + 1;
    return v;
  }();
  one_hot(f, static_cast<int>(a.getAtomicNum()), numbers);
  one_hot(f, static_cast<int>(a.getDegree()), {0, 1, 2, 3, 4, 5});
  one_hot(f, a.getFormalCharge(), {-1, -2, 1, 2, 0});
  one_hot(f, static_cast<int>(a.getChiralTag()), {0, 1, 2, 3});
  one_hot(f, static_cast<int>(a.getTotalNumHs()), {0, 1, 2, 3, 4});
  using H = RDKit::Atom::HybridizationType;
  one_hot(f, static_cast<int>(a.getHybridization()),
          {static_cast<int>(H::SP), static_cast<int>(H::SP2), static_cast<int>(H::SP3), static_cast<int>(H::SP3D),
           static_cast<int>(H::SP3D2)});
  f.push_back(a.getIsAromatic() ? 1.0f : 0.0f);
  f.push_back(static_cast<float>(a.getMass() * 0.01));
}

void bond_features(std::vector<float>& f, const RDKit::Bond& b, const RDKit::RingInfo& rings) {
  using T = RDKit::Bond::BondType;
  const auto t = b.getBondType();
  for (T k : {T::SINGLE, T::DOUBLE, T::TRIPLE, T::AROMATIC}) f.push_back(t == k ? 1.0f : 0.0f);
  f.push_back(b.getIsConjugated() ? 1.0f : 0.0f);
  f.push_back(rings.numBondRings(b.getIdx()) > 0 ? 1.0f : 0.0f);
  one_hot(f, static_cast<int>(b.getStereo()), {0, 1, 2, 3, 4, 5});
}

std::map<int, RDKit::DrawColour> weight_colours(const std::vector<double>& w) {
  std::map<int, RDKit::DrawColour> colours;
  double top = 0;
  for (double v : w) top = std::max(top, std::abs(v));
  if (top <= 0) return colours;
  for (size_t i = 0; i < w.size(); ++i) {
    const double a = std::abs(w[i]) / top;
    if (a < 0.05) continue;
    // Blend white towards red (raising the prediction) or blue (lowering it).
    colours[static_cast<int>(i)] = w[i] > 0 ? RDKit::DrawColour(1.0, 1.0 - 0.7 * a, 1.0 - 0.7 * a)
                                            : RDKit::DrawColour(1.0 - 0.7 * a, 1.0 - 0.7 * a, 1.0);
  }
  return colours;
}

void draw(RDKit::MolDraw2D& drawer, const Molecule& mol, const std::vector<double>& weights,
          const std::string& legend) {
  RDKit::RWMol copy(rd(mol));
  RDDepict::compute2DCoords(copy);
  const auto colours = weight_colours(weights);
  std::vector<int> atoms;
  std::map<int, double> radii;
  for (const auto& [i, c] : colours) atoms.push_back(i), radii[i] = 0.45;
  drawer.drawOptions().clearBackground = true;
  RDKit::MolDraw2DUtils::prepareAndDrawMolecule(drawer, copy, legend, atoms.empty() ? nullptr : &atoms, nullptr,
                                                colours.empty() ? nullptr : &colours, nullptr,
                                                radii.empty() ? nullptr : &radii);
}

}  // namespace

int Molecule::atoms() const { return static_cast<int>(impl_->mol->getNumAtoms()); }

std::optional<Molecule> parse_smiles(const std::string& smiles, std::string* error) {
  quiet_rdkit();
  const auto say = [&](const std::string& why) {
    if (error) *error = why;
    return std::nullopt;
  };
  if (smiles.find_first_not_of(" \t\r\n") == std::string::npos) return say("empty SMILES");
  RDKit::SmilesParserParams params;
  params.sanitize = false;
  std::unique_ptr<RDKit::RWMol> mol;
  try {
    mol.reset(RDKit::SmilesToMol(smiles, params));
  } catch (const std::exception& e) {
    return say(std::string("SMILES syntax error: ") + e.what());
  }
  if (!mol) return say("SMILES syntax error");
  try {
    RDKit::MolOps::sanitizeMol(*mol);
    RDKit::MolOps::assignStereochemistry(*mol, /*cleanIt=*/true);  // as SmilesToMol with sanitize does
  } catch (const RDKit::MolSanitizeException& e) {
    return say(e.what());
  } catch (const std::exception& e) {
    return say(e.what());
  }
  if (mol->getNumAtoms() == 0) return say("no atoms");
  return wrap(mol.release());
}

std::string canonical_smiles(const Molecule& mol) { return RDKit::MolToSmiles(rd(mol)); }

int Fingerprint::count() const {
  int n = 0;
  for (uint64_t w : words) n += std::popcount(w);
  return n;
}

Fingerprint morgan_fingerprint(const Molecule& mol, int radius, int bits) {
  std::unique_ptr<ExplicitBitVect> bv(RDKit::MorganFingerprints::getFingerprintAsBitVect(
      rd(mol), static_cast<unsigned>(radius), static_cast<unsigned>(bits)));
  Fingerprint fp;
  fp.bits = bits;
  fp.words.assign((static_cast<size_t>(bits) + 63) / 64, 0);
  for (int i = 0; i < bits; ++i)
    if (bv->getBit(static_cast<unsigned>(i))) fp.words[static_cast<size_t>(i) / 64] |= uint64_t{1} << (i % 64);
  return fp;
}

double tanimoto(const Fingerprint& a, const Fingerprint& b) {
  int both = 0, either = 0;
  for (size_t i = 0; i < a.words.size() && i < b.words.size(); ++i) {
    both += std::popcount(a.words[i] & b.words[i]);
    either += std::popcount(a.words[i] | b.words[i]);
  }
  return either == 0 ? 0.0 : static_cast<double>(both) / either;
}

namespace {
const RDKit::Descriptors::Properties& properties() {
  static const RDKit::Descriptors::Properties p;
  return p;
}
}  // namespace

const std::vector<std::string>& descriptor_names() {
  static const std::vector<std::string> names = properties().getPropertyNames();
  return names;
}

std::vector<double> descriptors(const Molecule& mol) { return properties().computeProperties(rd(mol)); }

std::string murcko_scaffold(const Molecule& mol) {
  std::unique_ptr<RDKit::ROMol> core(RDKit::MurckoDecompose(rd(mol)));
  if (!core || core->getNumAtoms() == 0) return "";
  core->clearComputedProps();
  core->updatePropertyCache();
  RDKit::MolOps::findSSSR(*core);
  return RDKit::MolToSmiles(*core, /*doIsomericSmiles=*/false);
}

MolGraph molecular_graph(const Molecule& mol) {
  const auto& m = rd(mol);
  MolGraph g;
  g.atoms = static_cast<int>(m.getNumAtoms());
  g.atom_features.reserve(static_cast<size_t>(g.atoms) * kAtomFeatures);
  for (const auto* a : m.atoms()) atom_features(g.atom_features, *a);
  const auto* rings = m.getRingInfo();
  for (const auto* b : m.bonds()) {
    const auto u = static_cast<int32_t>(b->getBeginAtomIdx()), v = static_cast<int32_t>(b->getEndAtomIdx());
    g.bond_from.push_back(u), g.bond_to.push_back(v);
    g.bond_from.push_back(v), g.bond_to.push_back(u);
    bond_features(g.bond_features, *b, *rings);
    g.bond_features.insert(g.bond_features.end(), g.bond_features.end() - kBondFeatures, g.bond_features.end());
  }
  return g;
}

std::vector<Alert> structural_alerts(const Molecule& mol) {
  static const RDKit::FilterCatalog pains(RDKit::FilterCatalogParams(RDKit::FilterCatalogParams::PAINS));
  static const RDKit::FilterCatalog brenk(RDKit::FilterCatalogParams(RDKit::FilterCatalogParams::BRENK));
  std::vector<Alert> out;
  for (const auto& [name, catalog] : {std::pair{"PAINS", &pains}, std::pair{"Brenk", &brenk}})
    for (const auto& entry : catalog->getMatches(rd(mol))) out.push_back({name, entry->getDescription()});
  return out;
}

std::string depict_svg(const Molecule& mol, const std::vector<double>& atom_weights, int width, int height,
                       const std::string& legend) {
  RDKit::MolDraw2DSVG drawer(width, height);
  draw(drawer, mol, atom_weights, legend);
  drawer.finishDrawing();
  return drawer.getDrawingText();
}

std::string depict_png(const Molecule& mol, const std::vector<double>& atom_weights, int width, int height,
                       const std::string& legend) {
  RDKit::MolDraw2DCairo drawer(width, height);
  draw(drawer, mol, atom_weights, legend);
  drawer.finishDrawing();
  return drawer.getDrawingText();
}

std::string rdkit_version() { return RDKit::rdkitVersion; }

}  // namespace medai::bridges::chem
