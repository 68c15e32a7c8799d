#!/usr/bin/env python3
"""Reading speed: LegSeg's NIfTI reader against nibabel's get_fdata() on the same file, in one run.

Usage: python3 Benchmarks/bench_io.py [FILE] [--legseg PATH] [--repeats N]
FILE defaults to ../shared/data/qmritools/test_up.nii.gz. Build LegSeg first (make build, release mode).
nibabel's figure is the median of N calls of nib.load(FILE).get_fdata() (float64, as nibabel returns it); LegSeg's
is the median of N reads into float32 by `legseg bench io`. Both include opening, decompressing and converting.
A ratio above 1 means LegSeg is faster. Figures from shared machines are noisy: compare ratios, run twice.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import nibabel as nib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file", nargs="?", default=os.path.join(ROOT, "..", "shared", "data", "qmritools", "test_up.nii.gz"))
    p.add_argument("--legseg", default=os.path.join(ROOT, ".build", "release", "legseg"))
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    if not os.path.exists(args.file):
        sys.exit(f"bench_io: {args.file}: no such file")

    nib.load(args.file).get_fdata()  # warm-up
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        data = nib.load(args.file).get_fdata()
        times.append((time.perf_counter() - t) * 1000)
    nib_ms = statistics.median(times)

    out = subprocess.run([args.legseg, "bench", "io", "--json", "--repeats", str(args.repeats), args.file],
                         check=True, capture_output=True, text=True).stdout
    legseg = json.loads(out)
    print(f"file: {args.file} {list(data.shape)}")
    print(f"nibabel {nib.__version__} get_fdata: {nib_ms:.1f} ms (median of {args.repeats})")
    print(f"legseg read:              {legseg['ms']:.1f} ms (median of {args.repeats}), peak RSS {legseg['peak_rss_mb']:.0f} MiB")
    print(f"ratio nibabel/legseg: {nib_ms / legseg['ms']:.2f}x")


if __name__ == "__main__":
    main()
