#!/usr/bin/env python3
"""The network pair of medai's GAN (src/medai/nn/nets/gan.cpp) in python3-torch: a
class-conditional DCGAN generator, a spectral-norm projection discriminator, hinge loss and
DiffAugment, one D step and one G step (with the mode-seeking term) per batch. Prints {"images", "seconds"} for STEPS steps
after 3 warm-up steps, on random [-1, 1] images (the training math, not data loading).
  gan_bench.py SIZE BATCH STEPS THREADS [WIDTH] [CLASSES]"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

size, batch, steps, threads = (int(a) for a in sys.argv[1:5])
width = int(sys.argv[5]) if len(sys.argv) > 5 else 32
classes = int(sys.argv[6]) if len(sys.argv) > 6 else 2
z_dim = 128
torch.set_num_threads(threads)
torch.manual_seed(1)
stages = int(round(math.log2(size / 4)))


def ch(level):
    return width * max(1, 8 >> level)


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(classes, z_dim)
        self.project = nn.Linear(2 * z_dim, ch(0) * 16, bias=False)
        self.project_bn = nn.BatchNorm2d(ch(0))
        self.up = nn.ModuleList(nn.ConvTranspose2d(ch(k), ch(k + 1), 4, 2, 1, bias=False) for k in range(stages))
        self.bn = nn.ModuleList(nn.BatchNorm2d(ch(k + 1)) for k in range(stages))
        self.out = nn.Conv2d(ch(stages), 1, 3, padding=1)

    def forward(self, z, y):
        h = self.project(torch.cat([z, self.embed(y)], 1)).view(z.size(0), -1, 4, 4)
        h = F.relu(self.project_bn(h))
        for u, b in zip(self.up, self.bn):
            h = F.relu(b(u(h)))
        return torch.tanh(self.out(h))


class D(nn.Module):
    def __init__(self):
        super().__init__()
        sn = nn.utils.spectral_norm
        cs = [1] + [ch(stages - 1 - k) for k in range(stages)]
        self.down = nn.ModuleList(sn(nn.Conv2d(cs[k], cs[k + 1], 4, 2, 1)) for k in range(stages))
        self.head = sn(nn.Linear(cs[-1] + 1, 1))
        self.embed = nn.Embedding(classes, cs[-1])

    def forward(self, x, y):
        h = x
        for d in self.down:
            h = F.leaky_relu(d(h), 0.2)
        spread = (h.var(0, unbiased=False) + 1e-8).sqrt().mean().expand(h.size(0), 1)
        h = h.sum((2, 3))
        return self.head(torch.cat([h, spread], 1)).squeeze(1) + (self.embed(y) * h).sum(1)


def diff_augment(x):
    n, s = x.size(0), x.size(2)
    y = x + (torch.rand(n, 1, 1, 1) - 0.5)
    m = y.mean((1, 2, 3), keepdim=True)
    y = (y - m) * (torch.rand(n, 1, 1, 1) + 0.5) + m
    shift = max(1, s // 8)
    t = torch.randint(-shift, shift + 1, (n, 2)).float() * (2.0 / s)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    theta[:, :, 2] = t
    grid = F.affine_grid(theta, (n, 1, s, s), align_corners=False)
    y = F.grid_sample(y, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    half = s // 4
    cy, cx = torch.randint(0, s, (n, 1, 1)), torch.randint(0, s, (n, 1, 1))
    r = torch.arange(s)
    inside = ((r.view(1, s, 1) - cy).abs() < half) & ((r.view(1, 1, s) - cx).abs() < half)
    return y * (~inside).unsqueeze(1).float()


g, d = G(), D()
og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.0, 0.99))
od = torch.optim.Adam(d.parameters(), 4e-4, betas=(0.0, 0.99))
real = torch.rand(batch, 1, size, size) * 2 - 1
y = torch.randint(0, classes, (batch,))


h = batch // 2
y_fake = torch.cat([y[:h], y[:h]])


def step():
    z = torch.randn(batch, z_dim)
    fake = g(z, y_fake)
    ld = F.relu(1 - d(diff_augment(real), y)).mean() + F.relu(1 + d(diff_augment(fake.detach()), y_fake)).mean()
    od.zero_grad()
    ld.backward()
    od.step()
    gap = (fake[:h] - fake[h:]).abs().mean() / (z[:h] - z[h:]).abs().mean()
    lg = -d(diff_augment(fake), y_fake).mean() + 1 / (gap + 1e-5)
    og.zero_grad()
    lg.backward()
    og.step()


for _ in range(3):
    step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({"images": steps * batch, "seconds": time.perf_counter() - t0}))
