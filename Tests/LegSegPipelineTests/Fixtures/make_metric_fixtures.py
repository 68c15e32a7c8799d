#!/usr/bin/env python3
"""Reference segmentation metrics for LegSeg's evaluation tests, computed independently with scipy.ndimage.

Writes small label volumes (.nii.gz, nibabel) into metrics/ and the expected per-label Dice, HD95 and average
symmetric surface distance into metrics/expected.json. Not run in CI; rerun by hand after changing a case:

    pip install nibabel scipy numpy
    python3 Tests/LegSegPipelineTests/Fixtures/make_metric_fixtures.py

Definitions (the same as SegmentationMetrics.swift):
  surface   = mask & ~binary_erosion(mask, 6-connected cross, border_value=0)
  distances = distance_transform_edt(~other_surface, sampling=voxel spacing from the affine) at surface voxels
  HD95      = max of the two directed 95th percentiles (numpy linear interpolation)
  ASD       = mean of both directions' distances pooled
  a label in one map only: Dice 0, distances null (infinite)
"""
import json
import os

import nibabel as nib
import numpy as np
from scipy import ndimage

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "metrics")
CROSS = ndimage.generate_binary_structure(3, 1)


def surface(mask):
    return mask & ~ndimage.binary_erosion(mask, structure=CROSS, border_value=0)


def metrics(pred, truth, label, spacing):
    a, b = pred == label, truth == label
    na, nb = int(a.sum()), int(b.sum())
    entry = {"label": label, "pred_voxels": na, "truth_voxels": nb, "overlap_voxels": int((a & b).sum())}
    if na == 0 or nb == 0:
        entry.update(dice=0.0 if na + nb else 1.0, hd95=None if na + nb else 0.0, asd=None if na + nb else 0.0)
        return entry
    sa, sb = surface(a), surface(b)
    a_to_b = ndimage.distance_transform_edt(~sb, sampling=spacing)[sa]
    b_to_a = ndimage.distance_transform_edt(~sa, sampling=spacing)[sb]
    entry["dice"] = 2.0 * (a & b).sum() / (na + nb)
    entry["hd95"] = float(max(np.percentile(a_to_b, 95), np.percentile(b_to_a, 95)))
    entry["asd"] = float((a_to_b.sum() + b_to_a.sum()) / (a_to_b.size + b_to_a.size))
    return entry


def ball(shape, centre, radii):
    g = np.indices(shape).astype(float)
    return sum(((g[n] - centre[n]) / radii[n]) ** 2 for n in range(3)) <= 1.0


def box(shape, lo, hi):
    m = np.zeros(shape, bool)
    m[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = True
    return m


def case_shapes():
    """Balls and boxes on an anisotropic RAS grid: shifted, eroded, one label missing in each map, one touching
    the volume's edge (surface convention at the border)."""
    shape = (30, 26, 12)
    affine = np.diag([0.8, 1.1, 2.5, 1.0])
    affine[:3, 3] = [-12.0, 4.0, 30.0]
    truth = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    truth[ball(shape, (8, 9, 5), (6, 5, 3))] = 1
    pred[ball(shape, (9, 9, 5), (6, 5, 3))] = 1                      # shifted one voxel along i
    b = box(shape, (16, 4, 2), (27, 14, 10))
    truth[b] = 2
    pred[ndimage.binary_erosion(b, structure=CROSS)] = 2              # eroded by one voxel
    truth[box(shape, (3, 18, 1), (9, 24, 4))] = 3                     # missing in the prediction
    pred[box(shape, (20, 18, 6), (24, 22, 9))] = 4                    # missing in the truth
    truth[box(shape, (0, 20, 0), (6, 26, 12))] = 5                    # touches four faces of the volume
    pred[box(shape, (0, 21, 0), (7, 26, 11))] = 5
    return "shapes", affine, pred, truth


def case_permuted_axes():
    """Array axes permuted and flipped relative to world (affine columns along -y, +z, -x), so the spacing must
    come from the affine's column norms, not its diagonal."""
    shape = (20, 14, 16)
    affine = np.array([[0.0, 0.0, -0.9, 40.0],
                       [-1.2, 0.0, 0.0, 20.0],
                       [0.0, 3.0, 0.0, -10.0],
                       [0.0, 0.0, 0.0, 1.0]])
    truth = np.zeros(shape, np.int16)
    pred = np.zeros(shape, np.int16)
    truth[ball(shape, (10, 7, 8), (7, 4, 6))] = 7
    pred[ball(shape, (10, 6, 9), (6, 4, 6))] = 7
    truth[box(shape, (2, 1, 1), (6, 5, 5))] = 9
    pred[box(shape, (2, 1, 2), (6, 6, 5))] = 9
    return "permuted_axes", affine, pred, truth


def case_blobs():
    """Irregular shapes (smoothed noise, thresholded) with several labels, to exercise the distance transform
    away from the symmetric cases."""
    rng = np.random.default_rng(20261124)
    shape = (24, 22, 10)
    affine = np.diag([-1.3, -0.7, 4.0, 1.0])  # LPS-like
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=(2.5, 2.5, 1.2))
    truth = np.zeros(shape, np.uint8)
    truth[field > 0.05] = 1
    truth[field < -0.06] = 2
    truth[(field > 0.12) & (np.indices(shape)[0] > 12)] = 3
    # The prediction: the truth with a random perturbation of its boundaries.
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=1.5)
    pred = truth.copy()
    pred[(noise > 0.12) & (truth == 0)] = 1
    pred[(noise < -0.12) & (truth == 2)] = 0
    pred[(noise < -0.05) & ndimage.binary_dilation(truth == 3, structure=CROSS)] = 3
    return "blobs", affine, pred, truth


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for name, affine, pred, truth in (case_shapes(), case_permuted_axes(), case_blobs()):
        for role, data in (("pred", pred), ("truth", truth)):
            image = nib.Nifti1Image(data, affine)
            image.set_qform(affine, code=1)
            image.set_sform(affine, code=1)
            nib.save(image, os.path.join(OUT, f"{name}_{role}.nii.gz"))
        # The spacing as stored (float32 in the header), which is what a reader of the file sees.
        spacing = nib.affines.voxel_sizes(nib.load(os.path.join(OUT, f"{name}_truth.nii.gz")).affine)
        labels = sorted(set(np.unique(pred)) | set(np.unique(truth)) - {0})
        labels = [int(x) for x in labels if x != 0]
        cases.append({
            "name": name,
            "pred": f"{name}_pred.nii.gz",
            "truth": f"{name}_truth.nii.gz",
            "spacing": [float(s) for s in spacing],
            "labels": [metrics(pred, truth, label, spacing) for label in labels],
        })
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"generator": "scipy " + __import__("scipy").__version__ + ", nibabel " + nib.__version__,
                   "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
