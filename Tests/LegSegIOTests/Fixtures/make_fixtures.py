#!/usr/bin/env python3
"""Writes the NIfTI fixtures LegSeg's reader is tested against, using nibabel as the independent reference.

For every valid fixture it records what nibabel reads (shape, affine, orientation codes, zooms, a float64 sum and
a few voxel values) in `<name>.json`; the Swift tests compare LegSeg's reading with these records. It also writes
hand-made broken files into `broken/`, each with the error kind LegSeg must report in `broken/manifest.json`.

Run from this folder:  python3 make_fixtures.py   (needs numpy and nibabel; versions are recorded in manifest.json)
"""
import gzip
import json
import math
import os
import shutil
import struct

import nibabel as nib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
VALID = os.path.join(HERE, "valid")
BROKEN = os.path.join(HERE, "broken")
rng = np.random.default_rng(20261124)


def oblique_affine():
    """A 20° rotation about x then 10° about z, anisotropic voxels, a flipped axis and an offset."""
    a, b = math.radians(20), math.radians(10)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    rz = np.array([[math.cos(b), -math.sin(b), 0], [math.sin(b), math.cos(b), 0], [0, 0, 1]])
    m = np.eye(4)
    m[:3, :3] = rz @ rx @ np.diag([-1.5, 1.5, 6.0])
    m[:3, 3] = [120.5, -80.25, 33.0]
    return m


def lps_affine():
    m = np.diag([-0.9, -1.1, 2.5, 1.0])
    m[:3, 3] = [10, 20, -30]
    return m


def ras_affine():
    m = np.diag([1.5, 1.5, 6.0, 1.0])
    m[:3, 3] = [-240.0, -200.0, -90.0]
    return m


def make_data(dtype, shape):
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        lo, hi = max(info.min, -30000), min(info.max, 30000)
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def record(name, path, extra=None):
    img = nib.load(path)
    data = np.asanyarray(img.dataobj, dtype=np.float64) if img.ndim == 3 else img.get_fdata(dtype=np.float64)
    vols = 1 if img.ndim == 3 else int(np.prod(img.shape[3:]))
    first = data if img.ndim == 3 else data.reshape(img.shape[:3] + (vols,), order="F")[..., 0]
    finite = np.where(np.isfinite(first), first, 0.0)
    probes = [[0, 0, 0], [img.shape[0] - 1, 0, 0], [1, 2, 1], [img.shape[0] - 1, img.shape[1] - 1, img.shape[2] - 1]]
    hdr = img.header
    rec = {
        "file": os.path.basename(path),
        "nifti_version": 2 if isinstance(img, nib.Nifti2Image) else 1,
        "byte_order": "big" if hdr.endianness == ">" else "little",
        "datatype": str(hdr.get_data_dtype().newbyteorder("=").name),
        "shape": [int(s) for s in img.shape[:3]],
        "volumes": vols,
        "affine": img.affine.tolist(),
        "qform_code": int(hdr["qform_code"]),
        "sform_code": int(hdr["sform_code"]),
        "orientation": "".join(nib.aff2axcodes(img.affine)),
        "zooms": [float(z) for z in hdr.get_zooms()[:3]],
        "sum": float(finite.sum()),
        "non_finite": int((~np.isfinite(first)).sum()),
        "probes": [{"index": p, "value": float(finite[tuple(p)])} for p in probes],
    }
    if vols > 1:
        second = data.reshape(img.shape[:3] + (vols,), order="F")[..., 1]
        rec["second_volume_sum"] = float(second.sum())
    if extra:
        rec.update(extra)
    with open(os.path.join(VALID, name + ".json"), "w") as f:
        json.dump(rec, f, indent=1)


def save(img, name, gz=False, big_endian=False):
    path = os.path.join(VALID, name + (".nii.gz" if gz else ".nii"))
    if big_endian:
        img = img.__class__(np.asanyarray(img.dataobj), img.affine, img.header.as_byteswapped(">"))
    nib.save(img, path)
    return path


def main():
    for d in (VALID, BROKEN):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    shape = (5, 4, 3)
    # Every datatype, little endian, both codes set (sform wins), RAS.
    for dtype in ["uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "float32", "float64"]:
        img = nib.Nifti1Image(make_data(np.dtype(dtype), shape), ras_affine(), dtype=dtype)
        img.set_qform(ras_affine(), code=1)
        img.set_sform(ras_affine(), code=1)
        img.header.set_data_dtype(dtype)
        record(f"dtype_{dtype}", save(img, f"dtype_{dtype}"))
    # Big-endian copies of two types.
    for dtype in ["int16", "float32", "float64"]:
        img = nib.Nifti1Image(make_data(np.dtype(dtype), shape), lps_affine())
        img.set_qform(lps_affine(), code=1)
        img.set_sform(lps_affine(), code=1)
        record(f"bigendian_{dtype}", save(img, f"bigendian_{dtype}", big_endian=True))
    # qform only (sform code 0, matrix zero) with an oblique affine.
    img = nib.Nifti1Image(make_data(np.dtype("float32"), shape), oblique_affine())
    img.set_qform(oblique_affine(), code=1)
    img.set_sform(None, code=0)
    record("qform_only_oblique", save(img, "qform_only_oblique"))
    # sform only (qform code 0), LPS.
    img = nib.Nifti1Image(make_data(np.dtype("int16"), shape), lps_affine())
    img.set_sform(lps_affine(), code=2)
    img.set_qform(None, code=0)
    record("sform_only_lps", save(img, "sform_only_lps"))
    # qform and sform both set but different: the sform must win.
    img = nib.Nifti1Image(make_data(np.dtype("float32"), shape), oblique_affine())
    img.set_qform(ras_affine(), code=1)
    img.set_sform(oblique_affine(), code=2)
    record("sform_beats_qform", save(img, "sform_beats_qform"))
    # Scaled integer data.
    img = nib.Nifti1Image(make_data(np.dtype("int16"), shape), ras_affine())
    img.header.set_data_dtype("int16")
    img.header.set_slope_inter(2.5, -10.0)
    img.set_qform(ras_affine(), code=1)
    img.set_sform(ras_affine(), code=1)
    record("scaled_int16", save(img, "scaled_int16"), {"scl_slope": 2.5, "scl_inter": -10.0})
    # 4D, gzip-compressed.
    data4 = make_data(np.dtype("float32"), shape + (3,))
    img = nib.Nifti1Image(data4, ras_affine())
    img.set_qform(ras_affine(), code=1)
    img.set_sform(ras_affine(), code=1)
    record("fourd_float32", save(img, "fourd_float32", gz=True))
    # gzip-compressed 3D, oblique sform.
    img = nib.Nifti1Image(make_data(np.dtype("int16"), shape), oblique_affine())
    img.set_sform(oblique_affine(), code=1)
    img.set_qform(oblique_affine(), code=1)
    record("oblique_int16_gz", save(img, "oblique_int16_gz", gz=True))
    # NIfTI-2, little and big endian.
    for big in (False, True):
        img = nib.Nifti2Image(make_data(np.dtype("float32"), shape), lps_affine())
        img.set_qform(lps_affine(), code=1)
        img.set_sform(lps_affine(), code=1)
        name = "nifti2_" + ("big" if big else "little")
        record(name, save(img, name, big_endian=big))
    # NaN and infinity among the voxels.
    d = make_data(np.dtype("float32"), shape)
    d[1, 1, 1] = np.nan
    d[2, 3, 0] = np.inf
    d[4, 0, 2] = -np.inf
    img = nib.Nifti1Image(d, ras_affine())
    img.set_qform(ras_affine(), code=1)
    img.set_sform(ras_affine(), code=1)
    record("non_finite_float32", save(img, "non_finite_float32"))

    make_broken()
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump({"generator": "make_fixtures.py", "nibabel": nib.__version__, "numpy": np.__version__,
                   "seed": 20261124}, f, indent=1)


def make_broken():
    """Hand-made broken files, each derived from a valid int16 image, with the error kind LegSeg must report."""
    good_path = os.path.join(VALID, "dtype_int16.nii")
    good = bytearray(open(good_path, "rb").read())
    cases = {}

    def put(name, content, kind, gz=False):
        path = os.path.join(BROKEN, name)
        with open(path, "wb") as f:
            f.write(gzip.compress(bytes(content)) if gz else bytes(content))
        cases[name] = kind

    def patched(offset, fmt, value):
        b = bytearray(good)
        struct.pack_into(fmt, b, offset, value)
        return b

    put("empty.nii", b"", "truncated")
    put("truncated_header.nii", good[:200], "truncated")
    put("truncated_data.nii", good[:400], "truncated")
    put("truncated_data.nii.gz", good[:400], "truncated", gz=True)
    put("bad_sizeof_hdr.nii", patched(0, "<i", 123), "notNIfTI")
    put("text_file.nii", b"this is not a NIfTI file at all, just some text\n" * 10, "notNIfTI")
    put("bad_magic.nii", patched(344, "4s", b"XYZ\0"), "badMagic")
    put("two_file_magic.nii", patched(344, "4s", b"ni1\0"), "badMagic")
    put("zero_dim.nii", patched(42, "<h", 0), "badDimensions")
    put("negative_dim.nii", patched(44, "<h", -7), "badDimensions")
    put("dim0_zero.nii", patched(40, "<h", 0), "badDimensions")
    put("dim0_nine.nii", patched(40, "<h", 9), "badDimensions")
    huge = bytearray(good)  # claims 2000^3 int16 voxels (16 GB) that the file does not hold
    struct.pack_into("<8h", huge, 40, 3, 2000, 2000, 2000, 1, 1, 1, 1)
    put("huge_dims.nii", huge, "truncated")
    put("huge_dims.nii.gz", huge, "truncated", gz=True)
    absurd = bytearray(good)  # 32767^4 voxels: more than any file could hold
    struct.pack_into("<8h", absurd, 40, 4, 32767, 32767, 32767, 32767, 1, 1, 1)
    put("absurd_dims.nii", absurd, "badDimensions")
    put("unknown_datatype.nii", patched(70, "<h", 2048), "unsupportedDatatype")
    put("complex_datatype.nii", patched(70, "<h", 32), "unsupportedDatatype")
    put("vox_offset_past_end.nii", patched(108, "<f", 1.0e6), "badVoxOffset")
    put("vox_offset_in_header.nii", patched(108, "<f", 100.0), "badVoxOffset")
    put("vox_offset_fraction.nii", patched(108, "<f", 352.5), "badVoxOffset")
    put("vox_offset_nan.nii", patched(108, "<f", float("nan")), "badVoxOffset")
    gz = bytearray(gzip.compress(bytes(good)))
    corrupt = bytearray(gz)
    for i in range(20, min(60, len(corrupt) - 8)):
        corrupt[i] ^= 0x5A
    put("corrupt_gzip.nii.gz", corrupt, "corruptGzip")
    put("truncated_gzip.nii.gz", gz[: len(gz) // 2], "truncated")
    with open(os.path.join(BROKEN, "manifest.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
