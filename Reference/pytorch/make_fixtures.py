"""Writes the PyTorch parity fixtures for LegSeg's engine tests.

For every configuration below it builds a model with the independent implementation in legseg_reference.py
(random weights, conditioned and fitted for a few seconds to a synthetic target so that its outputs are as
decisive as a trained network's), writes it as a LegSeg model file (<name>.json + <name>.safetensors), runs a fixed input
through PyTorch in f32 and stores input and output in <name>.io.safetensors. ops.json + ops.safetensors hold
single-operation cases (convolutions with odd strides/padding/dilation, transposed convolutions, norms,
activations, pooling, resampling, dense, concat). Deterministic given the seeds.

    pip install torch==2.13.0+cpu safetensors numpy     (see requirements.txt)
    python3 Reference/pytorch/make_fixtures.py          (from the repository root)
"""
import hashlib
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import legseg_reference as ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "LegSegEngineTests", "Fixtures")
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}

UNETS = [
    # name, config, input shape, weights dtype
    ("unet3d_gelu_batch", dict(dimensions=3, inputChannels=1, classes=3, depth=3, baseFeatures=4, featureGrowth=2,
                               downsampling=[[1, 2, 2], [2, 2, 2]], normalization="batch", activation="gelu"),
     [1, 1, 8, 16, 16], "F32"),
    ("unet3d_elu_instance_linear", dict(dimensions=3, inputChannels=2, classes=4, depth=2, baseFeatures=6,
                                        featureGrowth=2, startFeatures=5, downsampling=[[2, 2, 1]],
                                        blockRepetitions=3, normalization="instance", activation="elu",
                                        upsampling="linear"),
     [2, 2, 4, 6, 5], "F16"),
    ("unet2d_leaky_none", dict(dimensions=2, inputChannels=1, classes=5, depth=4, baseFeatures=4, featureGrowth=2,
                               downsampling=[[2, 2], [2, 1], [1, 2]], normalization="none", activation="leakyRelu",
                               activationParameter=0.1),
     [2, 1, 32, 48], "BF16"),
    ("unet3d_relu_batch_deep", dict(dimensions=3, inputChannels=1, classes=5, depth=4, baseFeatures=4, featureGrowth=2,
                                    downsampling=[[1, 2, 2], [2, 2, 2], [2, 2, 2]], normalization="batch",
                                    activation="relu"),
     [1, 1, 8, 32, 32], "F16"),
]

CLASSIFIERS = [
    ("classifier_small", dict(imageSize=[32, 32], inputChannels=1,
                              stages=[dict(features=4, kernel=7, pool=2), dict(features=8, kernel=5, pool=2),
                                      dict(features=8, kernel=3, pool=2), dict(features=8, kernel=3, pool=2)],
                              headWidths=[16, 8],
                              heads=[dict(name="side", classes=["Both", "Left", "Right"]),
                                     dict(name="position", classes=["Lower", "Knee", "Upper", "Hip", "Torso",
                                                                    "Shoulder", "Neck", "Head"])],
                              normalization="batch", activation="gelu"),
     [5, 1, 32, 32], "F32"),
]


def full_unet_config(cfg):
    c = dict(cfg)
    c.setdefault("startFeatures", c["baseFeatures"] // 2)
    c.setdefault("blockRepetitions", 2)
    c.setdefault("normEpsilon", 0.001)
    c.setdefault("dropout", 0.2)
    c.setdefault("upsampling", "nearest")
    c.setdefault("block", "resnet")
    return c


def full_classifier_config(cfg):
    c = dict(cfg)
    c.setdefault("normEpsilon", 0.001)
    return c


def write_model(name, arch, input_spec, classes, tensors, dtype, seed):
    weights_name = name + ".safetensors"
    path = os.path.join(OUT, weights_name)
    save_file({k: v.to(DTYPES[dtype]).contiguous() for k, v in tensors.items()}, path)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    manifest = {
        "format": "legseg-model", "formatVersion": 1, "name": name,
        "description": "random-weight parity fixture (not a trained network)",
        "architecture": arch, "input": input_spec,
        "provenance": {"script": "Reference/pytorch/make_fixtures.py", "torch": torch.__version__,
                       "seed": str(seed), "weights": "random"},
        "weights": {"file": weights_name, "sha256": digest, "dtype": dtype},
    }
    if classes is not None:
        manifest["classes"] = classes
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


def stored(tensors, dtype):
    """The weights as LegSeg will read them (rounded to the file's dtype), back in f32."""
    return {k: v.to(DTYPES[dtype]).to(torch.float32) for k, v in tensors.items()}


def make_unets():
    for seed, (name, cfg, shape, dtype) in enumerate(UNETS, start=1):
        cfg = full_unet_config(cfg)
        g = torch.Generator().manual_seed(1000 + seed)
        torch.manual_seed(1000 + seed)
        model = ref.UNet(cfg)
        ref.randomize(model, g)
        x = ref.smooth_input(shape, g)
        # Conditioned and briefly fitted so the outputs are as decisive as a trained network's (see fit()).
        ref.condition(model, x, logit_scale=1.0)
        ref.fit(model, x, ref.intensity_labels(x, cfg["classes"]))
        tensors = ref.legseg_state_dict(model)
        ref.load_legseg_state_dict(model, stored(tensors, dtype))
        model.eval()
        with torch.no_grad():
            y = model(x)
        arch = dict(cfg, type="unet")
        spec = {"normalization": {"rule": "uniform", "bins": 1024}, "patchSize": shape[2:],
                "voxelSizeMM": [2.0] * (len(shape) - 4) + [1.5, 1.5]}
        classes = [{"name": "background" if i == 0 else f"class{i}", "label": i} for i in range(cfg["classes"])]
        write_model(name, arch, spec, classes, tensors, dtype, 1000 + seed)
        save_file({"input": x.contiguous(), "output": y.contiguous()}, os.path.join(OUT, name + ".io.safetensors"))
        print(name, "params", sum(v.numel() for v in tensors.values()), "output", list(y.shape))


def make_classifiers():
    for seed, (name, cfg, shape, dtype) in enumerate(CLASSIFIERS, start=50):
        cfg = full_classifier_config(cfg)
        g = torch.Generator().manual_seed(1000 + seed)
        model = ref.SliceClassifier(cfg)
        ref.randomize(model, g)
        x = ref.smooth_input(shape, g).clamp(-3, 3) / 6 + 0.5
        ref.condition(model, x, logit_scale=2.0)
        tensors = ref.legseg_state_dict(model)
        ref.load_legseg_state_dict(model, stored(tensors, dtype))
        model.eval()
        with torch.no_grad():
            ys = model(x)
        spec = {"normalization": {"rule": "minmax"}, "patchSize": cfg["imageSize"], "voxelSizeMM": []}
        write_model(name, dict(cfg, type="sliceClassifier"), spec, None, tensors, dtype, 1000 + seed)
        io = {"input": x.contiguous()}
        io.update({f"output.{k}": v.contiguous() for k, v in ys.items()})
        save_file(io, os.path.join(OUT, name + ".io.safetensors"))
        print(name, "params", sum(v.numel() for v in tensors.values()))


def make_ops():
    g = torch.Generator().manual_seed(7)

    def rnd(*shape):
        return torch.rand(shape, generator=g) * 2 - 1

    cases, tensors = [], {}

    def add(name, op, params, **ts):
        cases.append(dict(name=name, op=op, **params))
        for k, v in ts.items():
            tensors[f"{name}.{k}"] = v.contiguous().clone()

    # Convolutions: odd channel counts, per-axis stride, asymmetric kernels, dilation.
    x = rnd(2, 3, 7, 9, 8); w = rnd(5, 3, 3, 2, 3); b = rnd(5)
    p = dict(stride=[1, 2, 2], padding=[1, 0, 1], dilation=[2, 1, 1])
    add("conv3d_strided_dilated", "convolution", p, input=x, weight=w, bias=b,
        output=F.conv3d(x, w, b, stride=p["stride"], padding=p["padding"], dilation=p["dilation"]))
    x = rnd(1, 4, 11, 10); w = rnd(6, 4, 5, 5)
    p = dict(stride=[2, 2], padding=[2, 2], dilation=[1, 1])
    add("conv2d_k5_s2_nobias", "convolution", p, input=x, weight=w,
        output=F.conv2d(x, w, None, stride=2, padding=2))
    x = rnd(1, 8, 4, 6, 6); w = rnd(8, 8, 3, 3, 3); b = rnd(8); r = rnd(1, 8, 4, 6, 6)
    p = dict(stride=[1, 1, 1], padding=[1, 1, 1], dilation=[1, 1, 1], activation="gelu")
    add("conv3d_fused_gelu_residual", "convolution", p, input=x, weight=w, bias=b, residual=r,
        output=F.gelu(F.conv3d(x, w, b, padding=1)) + r)
    # Transposed convolutions (PyTorch weight order [I, O, k...]).
    x = rnd(1, 4, 3, 4, 5); w = rnd(4, 3, 3, 3, 3); b = rnd(3)
    p = dict(stride=[1, 2, 2], padding=[1, 1, 1], outputPadding=[0, 1, 1], dilation=[1, 1, 1])
    add("convT3d_s122", "transposedConvolution", p, input=x, weight=w, bias=b,
        output=F.conv_transpose3d(x, w, b, stride=p["stride"], padding=p["padding"], output_padding=p["outputPadding"]))
    x = rnd(2, 5, 6, 7); w = rnd(5, 2, 2, 2)
    p = dict(stride=[2, 2], padding=[0, 0], outputPadding=[0, 0], dilation=[1, 1])
    add("convT2d_k2_s2", "transposedConvolution", p, input=x, weight=w,
        output=F.conv_transpose2d(x, w, None, stride=2))
    # Normalisation.
    x = rnd(2, 5, 4, 6, 7) * 3 + 1; s = rnd(5) + 1.5; t = rnd(5)
    add("instance_norm3d", "instanceNormalization", dict(epsilon=0.001), input=x, scale=s, shift=t,
        output=F.instance_norm(x, weight=s, bias=t, eps=0.001))
    x = rnd(3, 6, 5, 5); s = rnd(6) + 1.5; t = rnd(6); m = rnd(6) * 0.3; v = rnd(6) * 0.4 + 1
    add("batch_norm2d", "batchNormalization", dict(epsilon=0.001), input=x, scale=s, shift=t, mean=m, variance=v,
        output=F.batch_norm(x, m, v, weight=s, bias=t, training=False, eps=0.001))
    # Activations.
    x = rnd(2, 8, 5, 6) * 4
    for act, fn in [("gelu", F.gelu), ("elu", F.elu), ("relu", F.relu), ("sigmoid", torch.sigmoid),
                    ("tanh", torch.tanh), ("leakyRelu", lambda t: F.leaky_relu(t, 0.2))]:
        params = dict(activation=act)
        if act == "leakyRelu":
            params["activationParameter"] = 0.2
        add(f"act_{act}", "activation", params, input=x, output=fn(x))
    x = rnd(2, 7, 3, 4, 5) * 3
    add("softmax3d", "softmax", {}, input=x, output=torch.softmax(x, dim=1))
    # Pooling.
    x = rnd(2, 3, 4, 9, 8)
    add("maxpool3d_122", "pooling", dict(kind="max", kernel=[1, 2, 2], stride=[1, 2, 2], padding=[0, 0, 0]),
        input=x, output=F.max_pool3d(x, (1, 2, 2)))
    x = rnd(1, 5, 9, 10)
    add("avgpool2d_k3_s2_p1", "pooling", dict(kind="average", kernel=[3, 3], stride=[2, 2], padding=[1, 1]),
        input=x, output=F.avg_pool2d(x, 3, stride=2, padding=1))
    x = rnd(2, 6, 3, 4, 5)
    add("global_avgpool3d", "globalAveragePooling", {}, input=x, output=x.mean(dim=(2, 3, 4)))
    # Dense.
    x = rnd(3, 20); w = rnd(7, 20); b = rnd(7)
    add("dense_2d", "dense", dict(activation="tanh"), input=x, weight=w, bias=b, output=torch.tanh(F.linear(x, w, b)))
    x = rnd(2, 4, 3, 3); w = rnd(5, 36); b = rnd(5)
    add("dense_flatten", "dense", dict(activation="identity"), input=x, weight=w, bias=b,
        output=F.linear(torch.flatten(x, 1), w, b))
    # Concatenation, addition, resampling.
    a = rnd(2, 3, 4, 4, 4); c = rnd(2, 5, 4, 4, 4)
    add("concat3d", "concatenate", {}, input=a, second=c, output=torch.cat([a, c], dim=1))
    a = rnd(2, 6, 5, 5); c = rnd(2, 6, 5, 5)
    add("add_relu", "add", dict(activation="relu"), input=a, second=c, output=F.relu(a + c))
    x = rnd(1, 3, 3, 4, 5)
    add("upsample_nearest3d_122", "upsample", dict(factors=[1, 2, 2], mode="nearest"), input=x,
        output=F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest"))
    add("upsample_trilinear3d_222", "upsample", dict(factors=[2, 2, 2], mode="linear"), input=x,
        output=F.interpolate(x, scale_factor=(2, 2, 2), mode="trilinear", align_corners=False))
    x = rnd(2, 4, 5, 3)
    add("upsample_bilinear2d_23", "upsample", dict(factors=[2, 3], mode="linear"), input=x,
        output=F.interpolate(x, scale_factor=(2, 3), mode="bilinear", align_corners=False))
    add("upsample_nearest2d_32", "upsample", dict(factors=[3, 2], mode="nearest"), input=x,
        output=F.interpolate(x, scale_factor=(3, 2), mode="nearest"))

    save_file(tensors, os.path.join(OUT, "ops.safetensors"))
    with open(os.path.join(OUT, "ops.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print("ops", len(cases))


if __name__ == "__main__":
    torch.manual_seed(0)
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    make_unets()
    make_classifiers()
    make_ops()
