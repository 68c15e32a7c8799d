"""Writes the PyTorch training-parity fixtures of Tests/LegSegTrainingTests/Fixtures/.

Independent PyTorch implementation of the original's losses (segmentdata-spec.md 4.4), optimiser settings and
learning-rate schedule (4.5), applied to the reference networks of legseg_reference.py:

- unet_step: a tiny 3D UNet (batch norm, GELU, no dropout), batch 2, the combined loss of the original
  (squared Dice + 75*MSE + Tversky + CE + Jaccard + 2*focal), clipping by value 1, Adam(0.9, 0.99, 1e-5, L2 1e-4),
  base lr 1e-3 with the warm-up/plateau/cosine schedule over 10 batches; two steps.
- classifier_step: a tiny slice classifier, cross-entropy per head (summed), clipping by global norm 0.5,
  SGD momentum 0.9 with L2 1e-4, lr 0.05; two steps.

Each fixture stores init.*, grad1.* (gradients of step 1 after clipping), after1.*, after2.* (all tensors,
running statistics included), the input and target(s), and the losses and learning rates in the metadata.
Run: python3 Reference/pytorch/make_training_fixtures.py   (PyTorch CPU, safetensors)
"""
import math
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import legseg_reference as ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "LegSegTrainingTests", "Fixtures")


def overlap(p, t, a, b, n):
    dims = [0] + list(range(2, p.dim()))
    pn = p ** n
    tp = (t * p).sum(dims)
    tpn = (t * pn).sum(dims)
    fpn = ((1 - t) * pn).sum(dims)
    fnn = (t * (1 - pn)).sum(dims)
    return (1 - (tp + 1) / (tpn + a * fpn + b * fnn + 1)).mean()


def cross_entropy(p, t):
    return (-torch.log((t * p).sum(1) + 1e-15)).mean()


def focal(p, t):
    q = (t * p).sum(1)
    return 2 * (-torch.log(q + 1e-15) * (1 - q) ** 2).mean()


def combined(p, t):
    return (overlap(p, t, 0.5, 0.5, 2) + 75 * ((p - t) ** 2).mean() + overlap(p, t, 0.3, 0.7, 1)
            + cross_entropy(p, t) + overlap(p, t, 1, 1, 2) + focal(p, t))


def schedule(b, total):
    n1, n2, n3 = 0.25 * total, 0.40 * total, 0.95 * total
    if b < n1:
        return 0.2 + 0.8 * (1 - math.cos(math.pi * b / n1)) / 2
    if b < n2:
        return 1.0
    if b < n3:
        return 0.1 + 0.9 * (1 + math.cos(math.pi * (b - n2) / (n3 - n2))) / 2
    return 0.1


def kaiming(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))


def named_grads(model):
    return {k.replace(".units.", "."): p.grad.detach().clone() for k, p in model.named_parameters()}


def unet_step():
    cfg = dict(dimensions=3, inputChannels=1, classes=3, depth=2, baseFeatures=4, featureGrowth=2, startFeatures=2,
               downsampling=[[1, 2, 2]], blockRepetitions=2, normalization="batch", activation="gelu",
               normEpsilon=0.001, dropout=0.0, upsampling="nearest", block="resnet")
    torch.manual_seed(7)
    model = ref.UNet(cfg)
    kaiming(model, 11)
    model.train()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 1, 4, 8, 8, generator=g)
    labels = (x[:, 0] > 0.4).long() + (x[:, 0] > -0.3).long()
    t = torch.nn.functional.one_hot(labels, 3).permute(0, 4, 1, 2, 3).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=1e-4)
    out = {"input": x, "target": t}
    out.update({"init." + k: v for k, v in ref.legseg_state_dict(model).items()})
    meta = {"config": repr(cfg)}
    for step in (1, 2):
        lr = 1e-3 * schedule(step - 1, 10)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        loss = combined(model(x), t)
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)
        if step == 1:
            out.update({"grad1." + k: v for k, v in named_grads(model).items()})
        opt.step()
        out.update({f"after{step}." + k: v for k, v in ref.legseg_state_dict(model).items()})
        meta[f"loss{step}"] = repr(loss.item())
        meta[f"lr{step}"] = repr(lr)
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(OUT, "unet_step.safetensors"), metadata=meta)
    print("unet_step", meta)


def classifier_step():
    cfg = dict(imageSize=[16, 16], inputChannels=1,
               stages=[dict(features=4, kernel=3, pool=2), dict(features=6, kernel=3, pool=2)],
               headWidths=[8], heads=[dict(name="side", classes=["Both", "Left", "Right"]),
                                      dict(name="position", classes=["Lower", "Knee", "Upper", "Hip"])],
               normalization="batch", activation="relu", normEpsilon=0.001)
    torch.manual_seed(9)
    model = ref.SliceClassifier(cfg)
    kaiming(model, 13)
    model.train()
    g = torch.Generator().manual_seed(6)
    x = torch.randn(4, 1, 16, 16, generator=g)
    side = torch.tensor([0, 1, 2, 1])
    position = torch.tensor([3, 0, 2, 1])
    targets = {"side": torch.nn.functional.one_hot(side, 3).float(),
               "position": torch.nn.functional.one_hot(position, 4).float()}
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    out = {"input": x, "target.side": targets["side"], "target.position": targets["position"]}
    out.update({"init." + k: v for k, v in ref.legseg_state_dict(model).items()})
    meta = {"config": repr(cfg)}
    for step in (1, 2):
        opt.zero_grad()
        probs = model(x)
        loss = sum(cross_entropy(probs[h], targets[h]) for h in ("side", "position"))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        if step == 1:
            out.update({"grad1." + k: v for k, v in named_grads(model).items()})
        opt.step()
        out.update({f"after{step}." + k: v for k, v in ref.legseg_state_dict(model).items()})
        meta[f"loss{step}"] = repr(loss.item())
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(OUT, "classifier_step.safetensors"), metadata=meta)
    print("classifier_step", meta)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    unet_step()
    classifier_step()
