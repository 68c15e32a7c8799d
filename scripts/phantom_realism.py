#!/usr/bin/env python3
"""Compares LegSeg phantoms with the real QMRITools leg volumes (docs/phantom.md, "Realism").

Usage:
    legseg phantom --out /tmp/ph --count 3 --seed 1 --contrast all --voxel-size 1.5,6
    python3 scripts/phantom_realism.py --real ../shared/data/qmritools --phantoms /tmp/ph --docs docs

Writes side-by-side pictures (real | phantom) for thigh, calf, knee and hip to DOCS/images/ and prints a
Markdown table of measurements: intensity percentiles inside the legs, muscle/fat contrast, the fraction and
width of dark boundary lines, and cross-section areas of leg, bone marrow and subcutaneous fat per region.
Only numpy, scipy and nibabel are needed; never used at run time.
"""
import argparse
import glob
import json
import os
import sys

import nibabel as nib
import numpy as np
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngtools import grey, upscale, write_png  # noqa: E402


def load(path):
    img = nib.as_closest_canonical(nib.load(path))  # RAS: i toward the subject's right, j anterior
    return img.get_fdata().astype(np.float32), img.header.get_zooms()[:3]


def display(sl):
    """Radiological display: subject's right on the left, anterior at the top."""
    return sl[::-1, ::-1].T


def body_mask(a, frac=0.12):
    v = a[a > 0]
    m = a > frac * np.percentile(v, 99) if v.size else a > 0
    m = ndimage.binary_opening(m, iterations=1)
    m = ndimage.binary_fill_holes(ndimage.binary_closing(m, iterations=3))
    lab, n = ndimage.label(m)
    if n == 0:
        return m
    sizes = ndimage.sum(m, lab, range(1, n + 1))
    keep = [i + 1 for i, s in enumerate(sizes) if s > 0.1 * sizes.max()]
    return np.isin(lab, keep)


def crop(a, m, pad=4):
    ys, xs = np.where(m)
    return a[max(ys.min() - pad, 0):ys.max() + pad, max(xs.min() - pad, 0):xs.max() + pad]


def slice_stats(a, m, pix_mm2):
    """Intensity percentiles (relative to the in-body 95th percentile), dark-line fraction and leg areas."""
    v = a[m]
    p95 = np.percentile(v, 95)
    rel = np.percentile(v, [5, 25, 50, 75]) / p95
    med = np.median(v)
    inner = ndimage.binary_erosion(m, iterations=4)
    dark = inner & (a < 0.45 * med)
    lab, n = ndimage.label(m)
    areas = sorted((ndimage.sum(m, lab, range(1, n + 1)) * pix_mm2 / 100).tolist(), reverse=True)[:2]
    # Width of dark lines: 2 x area / edge count (a one-voxel-wide line gives 1).
    width_vox = line_width(dark)
    return dict(p5=rel[0], p25=rel[1], p50=rel[2], p75=rel[3], dark=dark.sum() / max(inner.sum(), 1),
                width=width_vox, areas=areas)


def line_width(mask):
    """Mean width (pixels) of thin structures: 2 * area / number of mask/non-mask 4-neighbour edges."""
    if mask.sum() == 0:
        return float("nan")
    m = mask.astype(np.int8)
    edges = np.abs(np.diff(m, axis=0)).sum() + np.abs(np.diff(m, axis=1)).sum()
    return 2.0 * mask.sum() / max(edges, 1)


def fat_layer_and_marrow(water, fat, m, pix_mm2):
    """From Dixon water/fat: subcutaneous fat area (fat-rich voxels connected to the skin rim), marrow area
    (fat-rich blobs >1 cm2 deep inside), muscle water / fat fat signal ratio."""
    ff = fat / np.maximum(water + fat, 1e-6)
    fatty = m & (ff > 0.6)
    rim = m & ~ndimage.binary_erosion(m, iterations=3)
    lab, n = ndimage.label(fatty)
    touching = set(np.unique(lab[rim & fatty])) - {0}
    sat = np.isin(lab, list(touching))
    deep = ndimage.binary_erosion(m, iterations=8)
    marrow = np.zeros_like(m)
    for i in range(1, n + 1):
        comp = lab == i
        if i in touching:
            continue
        if comp.sum() * pix_mm2 > 100 and (comp & deep).sum() == comp.sum():
            marrow |= comp
    muscle = m & (ff < 0.2) & ~ndimage.binary_dilation(fatty, iterations=1)
    ratio = np.median(water[muscle]) / max(np.median(fat[sat]) if sat.any() else 1, 1e-6)
    perim = (m & ~ndimage.binary_erosion(m)).sum()
    return dict(sat_area=sat.sum() * pix_mm2 / 100, marrow_area=marrow.sum() * pix_mm2 / 100,
                sat_thick=sat.sum() / max(perim, 1) * np.sqrt(pix_mm2), muscle_over_fat=ratio,
                muscle_ff=np.median(ff[muscle]) if muscle.any() else np.nan)


def phantom_cases(folder):
    cases = []
    for js in sorted(glob.glob(os.path.join(folder, "*.json"))):
        meta = json.load(open(js))
        name = meta["name"]
        cases.append((meta, os.path.join(folder, name)))
    return cases


def phantom_slices(meta, base, region, frac):
    """Index (RAS array) of a slice at relative position `frac` inside `region`."""
    regions = meta["sliceRegions"]
    ks = [k for k, r in enumerate(regions) if r == region]
    if not ks:
        return None
    # sliceRegions follow the written k axis; as_closest_canonical keeps k superior for LPS/RAS files.
    return ks[int(frac * (len(ks) - 1))]


def side_by_side(real, ph, out, scale=2):
    hr, hp = real.shape[0], ph.shape[0]
    h = max(hr, hp)
    real = np.pad(real, ((0, h - hr), (0, 0), (0, 0)))
    ph = np.pad(ph, ((0, h - hp), (0, 0), (0, 0)))
    gap = np.full((h, 6, 3), 255, np.uint8)
    write_png(out, upscale(np.concatenate([real, gap, ph], axis=1), scale, scale))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", required=True)
    ap.add_argument("--phantoms", required=True)
    ap.add_argument("--docs", default="docs")
    args = ap.parse_args()
    os.makedirs(os.path.join(args.docs, "images"), exist_ok=True)
    cases = phantom_cases(args.phantoms)
    if not cases:
        sys.exit("no phantom JSON files in " + args.phantoms)

    # (label, real file, real slices, real contrast, phantom region, position in region, phantom image)
    plan = [
        ("thigh", "test_up.nii.gz", [10, 15, 20], "out-phase", "thigh", 0.5, "image"),
        ("calf", "test_low.nii.gz", [10, 15, 20], "out-phase", "lower-leg", 0.7, "image"),
        ("knee", "station_5.nii.gz", [1, 3], "water", "knee", 0.6, "water"),
        ("hip", "station_7.nii.gz", [18, 24], "water", "hip", 0.35, "water"),
    ]
    rows = []
    for label, rfile, rks, contrast, region, pos, pimg in plan:
        r, rz = load(os.path.join(args.real, rfile))
        rpix = rz[0] * rz[1]
        rstats = [slice_stats(r[:, :, k], body_mask(r[:, :, k]), rpix) for k in rks]
        pstats, pic = [], None
        for meta, base in cases:
            k = phantom_slices(meta, base, region, pos)
            if k is None:
                continue
            p, pz = load(f"{base}_{pimg}.nii.gz")
            ppix = pz[0] * pz[1]
            for dk in (-1, 0, 1):
                kk = min(max(k + dk, 0), p.shape[2] - 1)
                pstats.append(slice_stats(p[:, :, kk], body_mask(p[:, :, kk]), ppix))
            if pic is None:
                a = display(p[:, :, k])
                m = display(body_mask(p[:, :, k]))
                pic = grey(crop(a, m), 0, np.percentile(a[m], 99.5))
        rk = rks[len(rks) // 2]
        a = display(r[:, :, rk])
        m = display(body_mask(r[:, :, rk]))
        rpic = grey(crop(a, m), 0, np.percentile(a[m], 99.5))
        if pic is not None:
            side_by_side(rpic, pic, os.path.join(args.docs, "images", f"realism_{label}.png"))

        def mean(st, key):
            vals = [s[key] for s in st]
            return np.mean(vals) if vals else np.nan

        def area(st):
            return np.mean([np.mean(s["areas"]) for s in st if s["areas"]]) if st else np.nan

        rows.append((label, contrast,
                     [mean(rstats, k) for k in ("p5", "p25", "p50", "p75", "dark", "width")] + [area(rstats)],
                     [mean(pstats, k) for k in ("p5", "p25", "p50", "p75", "dark", "width")] + [area(pstats)]))

    print("| region (contrast) | source | p5 | p25 | p50 | p75 (of p95) | dark-line fraction | line width (vox) | leg area (cm2) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, contrast, rv, pv in rows:
        for src, v in (("real", rv), ("phantom", pv)):
            print(f"| {label} ({contrast}) | {src} | " + " | ".join(f"{x:.2f}" if i < 6 else f"{x:.0f}"
                                                                  for i, x in enumerate(v)) + " |")

    # Dixon calf: fat layer, marrow and contrast.
    w, wz = load(os.path.join(args.real, "calf_water.nii.gz"))
    f, _ = load(os.path.join(args.real, "calf_fat.nii.gz"))
    pix = wz[0] * wz[1]
    real = [fat_layer_and_marrow(w[:, :, k], f[:, :, k], body_mask(w[:, :, k] + f[:, :, k]), pix) for k in range(6, 18, 3)]
    ph = []
    for meta, base in cases:
        k = phantom_slices(meta, base, "lower-leg", 0.7)
        if k is None:
            continue
        pw, pz = load(f"{base}_water.nii.gz")
        pf, _ = load(f"{base}_fat.nii.gz")
        ph.append(fat_layer_and_marrow(pw[:, :, k], pf[:, :, k], body_mask(pw[:, :, k] + pf[:, :, k]), pz[0] * pz[1]))
    print()
    print("| calf (Dixon) | subcutaneous fat area, both legs (cm2) | mean fat-layer thickness (mm) | marrow area (cm2) | muscle water / fat signal | muscle fat fraction |")
    print("|---|---|---|---|---|---|")
    for src, st in (("real", real), ("phantom", ph)):
        if st:
            print(f"| {src} | {np.mean([s['sat_area'] for s in st]):.1f} | {np.mean([s['sat_thick'] for s in st]):.1f} | "
                  f"{np.mean([s['marrow_area'] for s in st]):.1f} | {np.mean([s['muscle_over_fat'] for s in st]):.2f} | "
                  f"{np.nanmean([s['muscle_ff'] for s in st]):.3f} |")


if __name__ == "__main__":
    main()
