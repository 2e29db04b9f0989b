"""python3-torch side of the segmentation benchmark: the U-Net of nn/nets/unet.h (width 16,
depth 4, conv-BN-ReLU blocks, max-pool, 2x2 transposed convolutions, skip concatenation) with
the same loss and optimiser. Prints one JSON object.
   seg_bench.py train|infer [--threads N] [--size S] [--batch B] [--steps K]"""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(i, o, 3, padding=1, bias=False), nn.Conv2d(o, o, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(o), nn.BatchNorm2d(o)

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class UNet(nn.Module):
    def __init__(self, cin=3, cout=1, width=16, depth=4):
        super().__init__()
        chans = [width << d for d in range(depth)]
        self.encoder = nn.ModuleList([Block(cin if d == 0 else chans[d - 1], chans[d]) for d in range(depth)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(chans[d + 1], chans[d], 2, stride=2) for d in reversed(range(depth - 1))])
        self.decoder = nn.ModuleList([Block(2 * chans[d], chans[d]) for d in reversed(range(depth - 1))])
        self.head = nn.Conv2d(width, cout, 1)

    def forward(self, x):
        skips = []
        for d, b in enumerate(self.encoder):
            if d:
                x = F.max_pool2d(x, 2)
            x = b(x)
            skips.append(x)
        for k, (u, b) in enumerate(zip(self.up, self.decoder)):
            x = b(torch.cat([u(x), skips[-2 - k]], 1))
        return self.head(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    size = a.size or (128 if a.mode == "train" else 256)
    batch = a.batch or (8 if a.mode == "train" else 1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = UNet()
    x = torch.rand(batch, 3, size, size)
    y = (torch.rand(batch, 1, size, size) > 0.8).float()
    times = []
    if a.mode == "train":
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-2)
        net.train()
        for s in range(a.steps + 3):
            t0 = time.perf_counter()
            logits = net(x)
            p, t = torch.sigmoid(logits).flatten(1), y.flatten(1)
            loss = F.binary_cross_entropy_with_logits(logits, y) + (1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if s >= 3:
                times.append(time.perf_counter() - t0)
        times.sort()
        print(json.dumps({"side": "python3-torch", "mode": "train", "threads": a.threads, "images_per_s": batch / times[len(times) // 2]}))
    else:
        net.eval()
        with torch.no_grad():
            for s in range(a.steps + 3):
                t0 = time.perf_counter()
                torch.sigmoid(net(x)).sum().item()
                if s >= 3:
                    times.append(time.perf_counter() - t0)
        times.sort()
        print(json.dumps({"side": "python3-torch", "mode": "infer", "threads": a.threads, "ms_per_image": 1000 * times[len(times) // 2] / batch}))


if __name__ == "__main__":
    main()
