"""Independent PyTorch implementation of LegSeg's two networks (segmentdata-spec.md sections 2.2 and 3).

Written from the specification, not from the Swift code, so that parity tests compare two implementations.
Module attribute names are chosen so that ``state_dict()`` keys equal LegSeg's safetensors tensor names
(see docs/engine.md); ``legseg_state_dict`` drops PyTorch-only entries (``num_batches_tracked``).

UNet: consistent down/up schedule (spec 3.5): no down-sampling into level 0; transition i -> i+1 down-samples
with a 3x3x3 stride-f convolution and is mirrored by nearest (or linear) resize x f followed by a 3x3x3
convolution. Residual blocks: main path conv(F/2)-norm-act ... conv(F)-norm-act, shortcut conv1x1(F)-norm,
output = main + shortcut. Softmax over channels at the end.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def make_activation(name, parameter=None):
    name = name.lower()
    if name == "gelu":
        return nn.GELU()  # exact erf form
    if name == "relu":
        return nn.ReLU()
    if name == "elu":
        return nn.ELU(alpha=1.0 if parameter is None else parameter)
    if name == "leakyrelu":
        return nn.LeakyReLU(0.01 if parameter is None else parameter)
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "identity":
        return nn.Identity()
    raise ValueError(f"unknown activation {name}")


def make_norm(kind, channels, dims, eps):
    if kind == "batch":
        return (nn.BatchNorm3d if dims == 3 else nn.BatchNorm2d)(channels, eps=eps)
    if kind == "instance":
        return (nn.InstanceNorm3d if dims == 3 else nn.InstanceNorm2d)(channels, eps=eps, affine=True)
    return None


def conv(dims, cin, cout, k, stride=1, padding=None):
    padding = (k - 1) // 2 if padding is None else padding
    return (nn.Conv3d if dims == 3 else nn.Conv2d)(cin, cout, k, stride=stride, padding=padding, bias=True)


class ResBlock(nn.Module):
    def __init__(self, cfg, cin, features):
        super().__init__()
        dims, reps = cfg["dimensions"], cfg.get("blockRepetitions", 2)
        widths = [features if j == reps - 1 else max(1, features // 2) for j in range(reps)]
        self.conv = nn.ModuleList()
        norms = []
        c = cin
        for w in widths:
            self.conv.append(conv(dims, c, w, 3))
            norms.append(make_norm(cfg["normalization"], w, dims, cfg["normEpsilon"]))
            c = w
        if norms[0] is not None:
            self.norm = nn.ModuleList(norms)
        else:
            self.norm = None
        self.shortcut = conv(dims, cin, features, 1)
        self.shortcut_norm = make_norm(cfg["normalization"], features, dims, cfg["normEpsilon"])
        self.act = make_activation(cfg["activation"], cfg.get("activationParameter"))
        self.drop = nn.Dropout(cfg.get("dropout", 0.0))

    def forward(self, x):
        s = self.shortcut(x)
        if self.shortcut_norm is not None:
            s = self.shortcut_norm(s)
        h = x
        for j, c in enumerate(self.conv):
            h = c(h)
            if self.norm is not None:
                h = self.norm[j](h)
            h = self.act(h)
        return self.drop(h + s)


class EncoderLevel(nn.Module):
    def __init__(self, cfg, level, cin, features):
        super().__init__()
        dims = cfg["dimensions"]
        if level > 0:
            self.down = conv(dims, cin, cin, 3, stride=tuple(cfg["downsampling"][level - 1]), padding=1)
        else:
            self.down = None
        self.block = ResBlock(cfg, cin, features)

    def forward(self, x):
        if self.down is not None:
            x = self.down(x)
        return self.block(x)


class DecoderLevel(nn.Module):
    def __init__(self, cfg, level, features, below):
        super().__init__()
        dims = cfg["dimensions"]
        self.factor = tuple(cfg["downsampling"][level])
        self.mode = cfg.get("upsampling", "nearest")
        self.up = conv(dims, below, features, 3)
        self.block = ResBlock(cfg, 2 * features, features)

    def forward(self, x, skip):
        if self.mode == "nearest":
            x = F.interpolate(x, scale_factor=self.factor, mode="nearest")
        else:
            x = F.interpolate(x, scale_factor=self.factor, mode="trilinear" if x.dim() == 5 else "bilinear",
                              align_corners=False)
        x = self.up(x)
        return self.block(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        dims, depth = cfg["dimensions"], cfg["depth"]
        feats = [cfg["baseFeatures"] * cfg.get("featureGrowth", 2) ** i for i in range(depth)]
        start = cfg.get("startFeatures", cfg["baseFeatures"] // 2)
        self.start = conv(dims, cfg.get("inputChannels", 1), start, 1)
        self.encoder = nn.ModuleList()
        cin = start
        for i in range(depth):
            self.encoder.append(EncoderLevel(cfg, i, cin, feats[i]))
            cin = feats[i]
        self.decoder = nn.ModuleList([DecoderLevel(cfg, i, feats[i], feats[i + 1]) for i in range(depth - 1)])
        self.map = conv(dims, feats[0], cfg["classes"], 1)

    def forward(self, x):
        x = self.start(x)
        skips = []
        for level in self.encoder:
            x = level(x)
            skips.append(x)
        skips.pop()
        for i in reversed(range(len(self.decoder))):
            x = self.decoder[i](x, skips[i])
        return torch.softmax(self.map(x), dim=1)


class DenseUnit(nn.Module):
    def __init__(self, cin, cout, norm, eps):
        super().__init__()
        self.linear = nn.Linear(cin, cout)
        self.norm = nn.BatchNorm1d(cout, eps=eps) if norm == "batch" else None


class Head(nn.Module):
    def __init__(self, cfg, features, classes):
        super().__init__()
        self.units = nn.ModuleList()
        c = features
        for w in cfg["headWidths"]:
            self.units.append(DenseUnit(c, w, cfg["normalization"], cfg["normEpsilon"]))
            c = w
        self.output = nn.Linear(c, classes)
        self.act = make_activation(cfg["activation"], cfg.get("activationParameter"))

    def forward(self, x):
        for u in self.units:
            x = u.linear(x)
            if u.norm is not None:
                x = u.norm(x)
            x = self.act(x)
        return torch.softmax(self.output(x), dim=1)


class TrunkStage(nn.Module):
    def __init__(self, cin, stage, norm, eps):
        super().__init__()
        self.conv = nn.Conv2d(cin, stage["features"], stage["kernel"], padding=stage["kernel"] // 2)
        self.norm = nn.BatchNorm2d(stage["features"], eps=eps) if norm == "batch" else None
        self.pool = stage["pool"]


class SliceClassifier(nn.Module):
    """Spec 2.2: conv-BN-GELU-maxpool trunk, flatten, one dense head per output with softmax."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.trunk = nn.ModuleList()
        c = cfg.get("inputChannels", 1)
        size = list(cfg["imageSize"])
        for st in cfg["stages"]:
            self.trunk.append(TrunkStage(c, st, cfg["normalization"], cfg["normEpsilon"]))
            c = st["features"]
            size = [s // st["pool"] for s in size]
        flat = c * size[0] * size[1]
        self.heads = nn.ModuleDict({h["name"]: Head(cfg, flat, len(h["classes"])) for h in cfg["heads"]})
        self.act = make_activation(cfg["activation"], cfg.get("activationParameter"))

    def forward(self, x):
        for st in self.trunk:
            x = st.conv(x)
            if st.norm is not None:
                x = st.norm(x)
            x = self.act(x)
            if st.pool > 1:
                x = F.max_pool2d(x, st.pool)
        x = torch.flatten(x, 1)
        return {name: head(x) for name, head in self.heads.items()}


def legseg_state_dict(model):
    """state_dict with LegSeg's tensor names: classifier dense units are renamed
    heads.<name>.units.<j>.linear -> heads.<name>.<j>.linear; num_batches_tracked is dropped."""
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        out[k.replace(".units.", ".")] = v.detach().clone().contiguous()
    return out


def load_legseg_state_dict(model, tensors):
    sd = {}
    for k in model.state_dict().keys():
        if k.endswith("num_batches_tracked"):
            continue
        sd[k] = tensors[k.replace(".units.", ".")]
    model.load_state_dict(sd, strict=False)


def randomize(model, generator):
    """Random weights with non-trivial batch-norm statistics, so BN folding is exercised."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)):
                fan_in = m.weight[0].numel()
                bound = (3.0 / fan_in) ** 0.5 * 1.4
                m.weight.uniform_(-bound, bound, generator=generator)
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1, generator=generator)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
                m.weight.uniform_(0.6, 1.4, generator=generator)
                m.bias.uniform_(-0.2, 0.2, generator=generator)
                m.running_mean.uniform_(-0.2, 0.2, generator=generator)
                m.running_var.uniform_(0.5, 1.5, generator=generator)
            elif isinstance(m, (nn.InstanceNorm2d, nn.InstanceNorm3d)):
                m.weight.uniform_(0.6, 1.4, generator=generator)
                m.bias.uniform_(-0.2, 0.2, generator=generator)


def condition(model, x, logit_scale=4.0):
    """Makes a random network numerically well-conditioned, as a trained one is: every convolution/linear
    layer is rescaled (in forward order, LSUV-style) to unit output standard deviation on the input `x`, batch
    norm running statistics are set to the statistics of that batch, and the final layers are scaled so the
    logits have a standard deviation of about `logit_scale`. Without this, random residual nets reach logits
    of 1e3, where even PyTorch's own f32 and f64 results differ by more than the parity tolerance."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear))]
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d))]
    model.train()
    with torch.no_grad():
        for layer in layers:
            captured = {}
            hook = layer.register_forward_hook(lambda mod, inp, out: captured.__setitem__("out", out))
            model(x)
            hook.remove()
            std = captured["out"].std().clamp_min(1e-6)
            layer.weight /= std
            if layer.bias is not None:
                layer.bias /= std
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: one batch gives exactly its statistics
        model(x)
        for bn in bns:
            bn.momentum = 0.1
        finals = [model.map] if hasattr(model, "map") else [h.output for h in model.heads.values()]
        for layer in finals:
            layer.weight *= logit_scale
            layer.bias *= logit_scale
    model.eval()


def smooth_input(shape, generator, passes=4):
    """Random smooth volume/image with fine noise: closer to MRI than white noise."""
    x = torch.rand(shape, generator=generator)
    pool = F.avg_pool3d if len(shape) == 5 else F.avg_pool2d
    for _ in range(passes):
        x = pool(x, 3, stride=1, padding=1, count_include_pad=False)
    x = (x - x.mean()) / x.std().clamp_min(1e-6)
    return x + 0.02 * (torch.rand(shape, generator=generator) - 0.5)


def intensity_labels(x, classes):
    """A learnable target: class = intensity band of channel 0 (bands at quantiles of x)."""
    v = x[:, 0]
    edges = torch.quantile(v.flatten(), torch.linspace(0, 1, classes + 1)[1:-1])
    return torch.bucketize(v.contiguous(), edges)


def fit(model, x, labels, steps=300, lr=0.01):
    """A short Adam fit of the network to `labels` on the fixture input, so its outputs are as confident as a
    trained network's (random networks have near-ties on many voxels, which makes a bf16 arg-max comparison
    meaningless). Batch-norm statistics are recalibrated afterwards so eval mode matches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        out = model(x)
        probabilities = out if not isinstance(out, dict) else None
        loss = F.nll_loss(torch.log(probabilities.clamp_min(1e-8)), labels)
        loss.backward()
        optimizer.step()
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d))]
    with torch.no_grad():
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        model(x)
        for bn in bns:
            bn.momentum = 0.1
    model.eval()
    return loss.item()
