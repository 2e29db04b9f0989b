#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/nn/nets/classifier_net.h"
#include "medai/nn/nets/resnet.h"
#include "medai/nn/nets/unet.h"
#include "medai/train/torch_helpers.h"
#include "support/test_support.h"

using namespace medai;

TEST(UNet, GivesOneLogitMapPerOutputAtTheInputSizeAndRefusesOddSides) {
  for (bool residual : {false, true}) {
    nn::UNet net(nn::UNetOptions(3, 2).width(4).depth(3).residual(residual));
    EXPECT_EQ(net->multiple(), 4);
    auto y = net->forward(torch::randn({2, 3, 20, 12}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 2, 20, 12}));
    EXPECT_THROW(net->forward(torch::randn({1, 3, 18, 12})), Error);
    EXPECT_THROW(net->forward(torch::randn({1, 1, 20, 12})), Error);
  }
  EXPECT_THROW(nn::UNet(nn::UNetOptions(3, 1).depth(9)), Error);
}

TEST(ClassifierNets, ProduceLogitsForOneChannelInputsDownToTheMinimumSize) {
  for (const auto& arch : nn::known_architectures()) {
    SCOPED_TRACE(arch);
    auto net = nn::make_classifier(arch, 1, 2);
    net->eval();
    torch::NoGradGuard ng;
    auto y = net->forward(torch::randn({2, 1, nn::kMinInputSize, nn::kMinInputSize}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 2}));
  }
  EXPECT_THROW(nn::make_classifier("vgg16", 1, 2), Error);
}

TEST(ClassifierNets, StateDictKeysAndShapesMatchTorchvision) {
  if (!test::have_python_torch()) GTEST_SKIP() << "python3-torch/torchvision not installed: layout comparison not run";
  std::string script = R"(
import json, torchvision.models as m
out = {}
for name in ['resnet18', 'resnet34', 'resnet50', 'densenet121']:
    sd = getattr(m, name)(num_classes=3).state_dict()
    out[name] = {k: list(v.shape) for k, v in sd.items()}
print(json.dumps(out))
)";
  test::TempDir dir;
  test::write_text(dir / "keys.py", script);
  auto r = test::run_command(test::python() + " " + test::quote(dir / "keys.py"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ref = nlohmann::json::parse(r.out);
  for (const auto& arch : nn::known_architectures()) {
    SCOPED_TRACE(arch);
    auto net = nn::make_classifier(arch, 3, 3);
    std::map<std::string, std::vector<int64_t>> ours;
    for (const auto& p : net->named_parameters(true)) ours[p.key()] = p.value().sizes().vec();
    for (const auto& b : net->named_buffers(true)) ours[b.key()] = b.value().sizes().vec();
    EXPECT_EQ(ours.size(), ref[arch].size());
    for (const auto& [k, shape] : ref[arch].items()) {
      auto it = ours.find(k);
      ASSERT_NE(it, ours.end()) << "missing " << k;
      EXPECT_EQ(it->second, shape.get<std::vector<int64_t>>()) << k;
    }
  }
}

TEST(ClassifierNets, ChannelsLastGivesTheSameOutputs) {
  torch::manual_seed(0);
  auto net = nn::make_classifier("resnet18", 1, 2);
  net->eval();
  torch::NoGradGuard ng;
  auto x = torch::randn({2, 1, 64, 64});
  auto a = net->forward(x);
  nn::to_channels_last(*net);
  auto b = net->forward(x.contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-5));
}

TEST(ClassifierNets, FoldingBatchNormKeepsTheEvalOutputsAndTheStateDict) {
  for (const char* arch : {"resnet18", "resnet50"}) {
    SCOPED_TRACE(arch);
    torch::manual_seed(3);
    auto net = nn::make_classifier(arch, 1, 2);
    {  // non-trivial running statistics
      torch::NoGradGuard ng;
      for (auto& b : net->named_buffers())
        if (b.key().ends_with("running_mean")) b.value().uniform_(-0.2, 0.2);
        else if (b.key().ends_with("running_var")) b.value().uniform_(0.5, 2.0);
    }
    net->eval();
    auto x = torch::randn({2, 1, 64, 64});
    torch::Tensor before;
    {
      torch::NoGradGuard ng;
      before = net->forward(x);
    }
    auto keys_before = net->named_parameters().keys();
    nn::fold_batchnorm(*dynamic_cast<nn::ResNetImpl*>(net.get()));
    c10::InferenceMode im;
    auto after = net->forward(x);
    EXPECT_TRUE(torch::allclose(before, after, 1e-4, 1e-4)) << (before - after).abs().max().item<double>();
    EXPECT_EQ(net->named_parameters().keys(), keys_before);
  }
}

TEST(WeightAverage, StartsAsACopyThenMovesByOneMinusDecayAndCopiesIntegerBuffers) {
  torch::manual_seed(1);
  auto live = nn::make_classifier("resnet18", 1, 2), avg = nn::make_classifier("resnet18", 1, 2);
  train::update_average(*avg, *live, 0.99, 0);
  auto first = [](const nn::ClassifierNet& n) { return n->parameters().front().detach().clone(); };
  EXPECT_TRUE(torch::equal(first(avg), first(live)));
  const auto before = first(avg);
  {
    torch::NoGradGuard ng;
    for (auto& p : live->parameters()) p.add_(1.0);
    for (auto& b : live->buffers())
      if (!b.is_floating_point()) b.fill_(7);
  }
  // step 1000: past the ramp, so d = 0.99 exactly: avg = 0.99 avg + 0.01 (avg + 1) = avg + 0.01
  train::update_average(*avg, *live, 0.99, 1000);
  EXPECT_TRUE(torch::allclose(first(avg), before + 0.01, 1e-5, 1e-6));
  for (auto& b : avg->buffers())
    if (!b.is_floating_point()) EXPECT_EQ(b.item<int64_t>(), 7);
  // early steps ramp: at step 1 the decay is 2/11, so most of the live weights come in
  auto avg2 = nn::make_classifier("resnet18", 1, 2);
  train::update_average(*avg2, *live, 0.99, 0);
  const auto b2 = first(avg2);
  {
    torch::NoGradGuard ng;
    for (auto& p : live->parameters()) p.add_(1.0);
  }
  train::update_average(*avg2, *live, 0.99, 1);
  EXPECT_TRUE(torch::allclose(first(avg2), b2 + 9.0 / 11.0, 1e-5, 1e-5));
}
