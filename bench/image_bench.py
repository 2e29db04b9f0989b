#!/usr/bin/python3
"""python3-torch + torchvision reference for bench/image_bench.cpp: the same ResNet-18
(torchvision, 1-channel conv1, 2 classes), same threads, channels-last, AdamW, class-weighted CE.
The loader mode is what a PyTorch user would write: ImageFolder + PIL transforms + DataLoader."""
import json, sys, time, statistics
import torch, torchvision
from torchvision import transforms as T


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


mode = sys.argv[1]
threads, size, batch, steps = arg('--threads', 2), arg('--size', 128), arg('--batch', 32), arg('--steps', 20)
data = arg('--data', '')
torch.set_num_threads(threads)
torch.manual_seed(0)


def resnet18():
    m = torchvision.models.resnet18(num_classes=2)
    m.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    return m.to(memory_format=torch.channels_last)


if mode == 'train':
    net = resnet18().train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    w = torch.tensor([1.5, 0.75])
    x = torch.randn(batch, 1, size, size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 2, (batch,))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y, weight=w)
        loss.backward()
        opt.step()
    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    s = time.perf_counter() - t0
    print(json.dumps({'side': 'python3-torch', 'mode': 'train', 'threads': threads, 'batch': batch, 'size': size,
                      'images_per_s': steps * batch / s}))
elif mode == 'infer':
    net = resnet18().eval()

    def measure(b, reps):
        x = torch.randn(b, 1, size, size).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            for _ in range(3):
                net(x)
            ms = []
            for _ in range(reps):
                t0 = time.perf_counter()
                net(x)
                ms.append(1000 * (time.perf_counter() - t0))
        return statistics.median(ms)
    b1, b32 = measure(1, 60), measure(32, 10)
    # Also PyTorch's own deployment path, for a like-for-like comparison with medai's default.
    net = torch.jit.optimize_for_inference(torch.jit.script(resnet18().eval()))
    o1, o32 = measure(1, 60), measure(32, 10)
    print(json.dumps({'side': 'python3-torch', 'mode': 'infer', 'threads': threads, 'size': size,
                      'batch1_ms': b1, 'batch32_ms': b32, 'optimized_batch1_ms': o1, 'optimized_batch32_ms': o32}))
elif mode == 'loader':
    import os
    root = data
    # Kermany layout: DATA/train/<CLASS>/*.png (or DATA/<CLASS>/*.png)
    if os.path.isdir(os.path.join(root, 'train')):
        root = os.path.join(root, 'train')
    tf = T.Compose([T.Grayscale(1), T.Resize((size, size)),
                    T.RandomAffine(10, translate=(0.06, 0.06), scale=(0.9, 1.1)),
                    T.ColorJitter(brightness=0.06, contrast=0.15), T.ToTensor()])
    ds = torchvision.datasets.ImageFolder(root, transform=tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=threads)
    t0 = time.perf_counter()
    n = 0
    for xb, yb in dl:
        n += xb.shape[0]
    s = time.perf_counter() - t0
    print(json.dumps({'side': 'python3-torch', 'mode': 'loader', 'threads': threads, 'images': n,
                      'first_epoch_images_per_s': n / s}))
