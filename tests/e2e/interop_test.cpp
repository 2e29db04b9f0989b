// Both directions with python3-torch: medai's TorchScript export runs in PyTorch with the same
// outputs (and its weights load into torchvision's resnet18), and a torchvision model scripted
// in PyTorch imports into medai with the same outputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <fstream>

#include "e2e_support.h"
#include "medai/core/runtime.h"
#include "medai/explain/gradcam.h"
#include "medai/imaging/classifier_model.h"

namespace fs = std::filesystem;
using namespace medai;

namespace {
void write_floats(const fs::path& p, const torch::Tensor& t) {
  auto c = t.contiguous().to(torch::kFloat);
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(c.data_ptr<float>()), c.numel() * sizeof(float));
}
torch::Tensor read_floats(const fs::path& p, std::vector<int64_t> shape) {
  std::string b = test::read_text(p);
  auto t = torch::empty(shape, torch::kFloat);
  EXPECT_EQ(b.size(), static_cast<size_t>(t.numel()) * sizeof(float)) << p;
  std::memcpy(t.data_ptr<float>(), b.data(), std::min(b.size(), static_cast<size_t>(t.numel()) * sizeof(float)));
  return t;
}
}  // namespace

TEST(TorchScriptInterop, ExportRunsInPythonTorchWithTheSameOutputs) {
  if (!test::have_python_torch()) GTEST_SKIP() << "python3-torch not installed: interop not checked";
  fs::path run = test::trained_run();
  if (run.empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  auto r = test::run_medai("image export --model " + test::quote(run) + " --torchscript " + test::quote(dir / "m.pt"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  torch::manual_seed(2);
  auto x = torch::randn({4, 1, 64, 64});
  write_floats(dir / "x.bin", x);
  auto model = imaging::ClassifierModel::load(run);
  write_floats(dir / "ours.bin", model.logits(x));
  std::string script = R"(
import sys, numpy as np, torch, torchvision
d = sys.argv[1]
m = torch.jit.load(d + '/m.pt').eval()
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float32).reshape(4, 1, 64, 64))
ours = torch.from_numpy(np.fromfile(d + '/ours.bin', dtype=np.float32).reshape(4, 2))
with torch.no_grad():
    y = m(x)
    tv = torchvision.models.resnet18(num_classes=2)
    tv.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    sd = {k.replace('__', '.'): v for k, v in m.state_dict().items()}
    missing, unexpected = tv.load_state_dict(sd, strict=False)
    assert all(k.endswith('num_batches_tracked') for k in missing), missing
    assert not unexpected, unexpected
    z = tv.eval()(x)
print(float((y - ours).abs().max()), float((z - ours).abs().max()))
)";
  test::write_text(dir / "check.py", script);
  auto py = test::run_command(test::python() + " " + test::quote(dir / "check.py") + " " + test::quote(dir.path()));
  ASSERT_EQ(py.exit_code, 0) << py.err;
  double d_script = 1, d_torchvision = 1;
  std::sscanf(py.out.c_str(), "%lf %lf", &d_script, &d_torchvision);
  std::cout << "max |python TorchScript - medai| = " << d_script
            << ", torchvision with medai weights: " << d_torchvision << "\n";
  EXPECT_LT(d_script, 1e-4);
  EXPECT_LT(d_torchvision, 1e-4);
}

TEST(TorchScriptInterop, ImportsAScriptedTorchvisionResnetWithTheSameOutputs) {
  if (!test::have_python_torch()) GTEST_SKIP() << "python3-torch not installed: interop not checked";
  test::TempDir dir;
  std::string script = R"(
import sys, numpy as np, torch, torchvision
d = sys.argv[1]
torch.manual_seed(0)
for name in ['resnet18', 'resnet34']:
    m = getattr(torchvision.models, name)(num_classes=2)
    m.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1); mod.running_var.uniform_(0.5, 1.5)
    m.eval()
    torch.jit.script(m).save(d + '/' + name + '.pt')
    if name == 'resnet18':
        x = torch.randn(3, 1, 64, 64)
        x.numpy().tofile(d + '/x.bin')
        with torch.no_grad():
            m(x).numpy().tofile(d + '/ref.bin')
)";
  test::write_text(dir / "make.py", script);
  auto py = test::run_command(test::python() + " " + test::quote(dir / "make.py") + " " + test::quote(dir.path()));
  ASSERT_EQ(py.exit_code, 0) << py.err;
  auto r =
      test::run_medai("image import --torchscript " + test::quote(dir / "resnet18.pt") + " --arch resnet18 --out " +
                      test::quote(dir / "run") + " --size 64 --classes NORMAL,PNEUMONIA");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto model = imaging::ClassifierModel::load(dir / "run");
  auto ours = model.logits(read_floats(dir / "x.bin", {3, 1, 64, 64}));
  auto ref = read_floats(dir / "ref.bin", {3, 2});
  double diff = (ours - ref).abs().max().item<double>();
  std::cout << "max |medai import - PyTorch| = " << diff << "\n";
  EXPECT_LT(diff, 1e-4);
  // A ResNet-34 file is not a ResNet-18: a clear error, and no run folder left behind.
  auto wrong = test::run_medai("image import --torchscript " + test::quote(dir / "resnet34.pt") +
                               " --arch resnet18 --out " + test::quote(dir / "run34") + " --classes NORMAL,PNEUMONIA");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("resnet34.pt"), std::string::npos) << wrong.err;
  EXPECT_FALSE(fs::exists(dir / "run34" / "model_card.json"));
}

TEST(GradCamParity, MatchesATextbookPythonGradCamOnTheSameWeights) {
  if (!test::have_python_torch()) GTEST_SKIP() << "python3-torch not installed: parity not checked";
  fs::path run = test::trained_run();
  if (run.empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  ASSERT_EQ(test::run_medai("image export --model " + test::quote(run) + " --torchscript " + test::quote(dir / "m.pt"))
                .exit_code,
            0);
  torch::manual_seed(4);
  auto x = torch::randn({1, 1, 64, 64});
  write_floats(dir / "x.bin", x);
  auto model = imaging::ClassifierModel::load(run);
  cv::Mat cam = explain::grad_cam(*model.net, x, 1);
  write_floats(dir / "ours.bin", torch::from_blob(cam.ptr<float>(), {64, 64}, torch::kFloat).clone());
  std::string script = R"(
import sys, numpy as np, torch, torchvision
d = sys.argv[1]
m = torch.jit.load(d + '/m.pt')
net = torchvision.models.resnet18(num_classes=2)
net.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
net.load_state_dict({k.replace('__', '.'): v for k, v in m.state_dict().items()}, strict=False)
net.eval()
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float32).reshape(1, 1, 64, 64))
f = net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x))))))))
f.retain_grad()
z = net.fc(torch.flatten(net.avgpool(f), 1))
(z[0, 1] - z[0, 0]).backward()
w = f.grad.mean((2, 3), keepdim=True)
cam = torch.relu((w * f).sum(1, keepdim=True))
cam = torch.nn.functional.interpolate(cam, (64, 64), mode='bilinear', align_corners=False)[0, 0].detach()
cam = cam / cam.max() if cam.max() > 0 else cam
ours = torch.from_numpy(np.fromfile(d + '/ours.bin', dtype=np.float32).reshape(64, 64))
print(float((cam - ours).abs().max()))
)";
  test::write_text(dir / "cam.py", script);
  auto py = test::run_command(test::python() + " " + test::quote(dir / "cam.py") + " " + test::quote(dir.path()));
  ASSERT_EQ(py.exit_code, 0) << py.err;
  double diff = std::stod(py.out);
  std::cout << "max |medai Grad-CAM - python3-torch Grad-CAM| = " << diff << "\n";
  EXPECT_LT(diff, 1e-4);
}
