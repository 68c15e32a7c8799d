#!/usr/bin/env python3
"""Cross-checks LegSeg's PNG encoder with Pillow (an independent decoder). Not run in CI.

    pip install pillow numpy
    python3 Tests/LegSegPipelineTests/Fixtures/check_png_with_pil.py

Runs the PNG writer tests (and the real-data QC montage test, when ../shared/data/qmritools exists) with
LEGSEG_PNG_OUT / LEGSEG_QC_OUT pointing at a temporary folder, then decodes every PNG written there with Pillow:
the test patterns must match pixel for pixel the formula of PNGWriterTests.pattern, and the montage must open as RGB.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def pattern(width, height, channels):
    n = np.arange(width * height * channels)
    return ((n * 37 + n // 7) & 0xFF).astype(np.uint8)


def main():
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, LEGSEG_PNG_OUT=out, LEGSEG_QC_OUT=out)
        subprocess.run(["swift", "test", "--filter", "PNGWriterTests|RealDataQCTests"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        failures = 0
        for channels, mode in ((1, "L"), (3, "RGB")):
            path = os.path.join(out, f"pattern_{channels}.png")
            image = Image.open(path)
            image.load()
            pixels = np.asarray(image).reshape(-1)
            ok = image.mode == mode and image.size == (13, 5) and np.array_equal(pixels, pattern(13, 5, channels))
            print(f"{os.path.basename(path)}: {image.mode} {image.size} {'ok' if ok else 'MISMATCH'}")
            failures += not ok
        montage = os.path.join(out, "test_up_montage.png")
        if os.path.exists(montage):
            image = Image.open(montage)
            image.load()
            print(f"test_up_montage.png: {image.mode} {image.size} ok")
            failures += image.mode != "RGB"
        else:
            print("test_up_montage.png: skipped (no real data)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
