// Every network's TorchScript export (emit_torchscript next to its forward) runs in libtorch's
// interpreter with the outputs of the module itself; the python3-torch side is tested in
// tests/e2e/interop_test.cpp for the classifiers.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <sstream>

#include "medai/core/error.h"
#include "medai/imaging/torchscript_interop.h"
#include "medai/nn/nets/classifier_net.h"
#include "medai/nn/nets/lstm_forecaster_net.h"
#include "medai/nn/nets/mlp.h"
#include "medai/nn/nets/resnet.h"
#include "medai/nn/torchscript.h"
#include "support/test_support.h"

namespace medai {
namespace {

template <class Net>
torch::jit::Module round_trip(Net& net, const std::string& name) {
  std::stringstream buffer;
  nn::save_torchscript(
      name, [&net](nn::TorchScriptEmitter& e) { return net.emit_torchscript(e); }, buffer);
  auto m = torch::jit::load(buffer);
  m.eval();
  return m;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(TorchScriptExport, ClassifiersGiveTheModulesLogits) {
  torch::manual_seed(3);
  for (const std::string arch : {"resnet18", "resnet50", "densenet121"}) {
    auto net = nn::make_classifier(arch, 1, 2);
    net->eval();
    torch::NoGradGuard ng;
    auto x = torch::randn({2, 1, 64, 64});
    auto m = round_trip(*net, arch);
    EXPECT_LT(max_diff(m.forward({x}).toTensor(), net->forward(x)), 1e-4) << arch;
    EXPECT_TRUE(m.hasattr("conv1__weight") || m.hasattr("features__conv0__weight")) << arch;
  }
}

TEST(OptimizedClassifier, WithFeaturesGivesTheLogitsAndThePooledFeaturesOfTheNetwork) {
  torch::manual_seed(4);
  for (const std::string arch : {"resnet18", "densenet121"}) {
    auto net = nn::make_classifier(arch, 1, 2);
    net->eval();
    imaging::OptimizedClassifier plain(*net, 1, 64), both(*net, 1, 64, true);
    EXPECT_FALSE(plain.has_features());
    EXPECT_TRUE(both.has_features());
    torch::NoGradGuard ng;
    auto x = torch::randn({3, 1, 64, 64});
    const auto [z, f] = both.forward_with_features(x);
    EXPECT_LT(max_diff(z, net->forward(x)), 1e-4) << arch;
    EXPECT_LT(max_diff(f, net->features(x).mean({2, 3})), 1e-4) << arch;
    EXPECT_LT(max_diff(both.forward(x), plain.forward(x)), 1e-5) << arch;
    EXPECT_THROW(plain.forward_with_features(x), Error);
  }
}

TEST(TorchScriptExport, ForecasterAndMlpGiveTheModulesOutputs) {
  torch::manual_seed(4);
  nn::LstmForecasterNet lstm(nn::LstmForecasterNetOptions(3, 16, 2).layers(2).dropout(0.2));
  lstm->eval();
  nn::Mlp mlp(nn::MlpOptions(5, 8, 3));
  torch::NoGradGuard ng;
  auto seq = torch::randn({4, 24, 3});
  EXPECT_LT(max_diff(round_trip(*lstm, "lstm_forecaster").forward({seq}).toTensor(), lstm->forward(seq)), 1e-5);
  auto x = torch::randn({6, 5});
  EXPECT_LT(max_diff(round_trip(*mlp, "mlp").forward({x}).toTensor(), mlp->forward(x)), 1e-6);
}

TEST(TorchScriptExport, PythonTorchRunsTheForecasterWithTheSameOutputs) {
  if (!test::have_python_torch()) GTEST_SKIP() << "python3-torch not installed";
  test::TempDir dir;
  torch::manual_seed(5);
  nn::LstmForecasterNet lstm(nn::LstmForecasterNetOptions(3, 8, 2).layers(2));
  lstm->eval();
  nn::export_torchscript(*lstm, "lstm_forecaster", dir / "f.pt");
  torch::NoGradGuard ng;
  auto out = lstm->forward(torch::linspace(-1, 1, 2 * 12 * 3).reshape({2, 12, 3}));
  auto r = test::run_command(test::python() + " -c \"import torch; m = torch.jit.load('" + (dir / "f.pt").string() +
                             "'); y = m(torch.linspace(-1, 1, 72).reshape(2, 12, 3)); "
                             "print(' '.join('%.9g' % v for v in y.flatten().tolist()))\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  auto flat = out.flatten();
  for (int64_t i = 0; i < flat.numel(); ++i) {
    double v = 0;
    ASSERT_TRUE(in >> v) << r.out;
    EXPECT_NEAR(v, flat[i].item<double>(), 1e-5) << i;
  }
}

TEST(TorchScriptExport, WritesTheFileAtomicallyAndRefusesFoldedNetworks) {
  auto dir = std::filesystem::temp_directory_path() / "medai_ts_export";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  nn::Mlp mlp(nn::MlpOptions(2, 4, 1));
  nn::export_torchscript(*mlp, "mlp", dir / "mlp.pt");
  EXPECT_TRUE(std::filesystem::exists(dir / "mlp.pt"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);  // no temporary left
  nn::ResNet r(nn::ResNetOptions{});
  r->eval();
  nn::fold_batchnorm(*r);
  EXPECT_THROW(nn::export_torchscript(*r, "resnet18", dir / "r.pt"), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "r.pt"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace medai
