"""Tiny PNG writer and label colouring for the phantom comparison pictures (numpy + zlib only)."""
import struct
import zlib

import numpy as np


def write_png(path, rgb):
    """Writes an (H, W, 3) uint8 array as PNG."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def grey(img, lo=None, hi=None):
    """Scales a 2D float image to uint8 RGB between percentiles of its non-zero voxels."""
    v = img[img > 0]
    if lo is None:
        lo = 0.0
    if hi is None:
        hi = np.percentile(v, 99.5) if v.size else 1.0
    g = np.clip((img - lo) / max(hi - lo, 1e-9), 0, 1)
    g = (g * 255).astype(np.uint8)
    return np.stack([g, g, g], axis=-1)


def colour_labels(lab):
    """Deterministic pseudo-random colour per label, black background."""
    rng = np.random.RandomState(7)
    lut = rng.randint(40, 255, size=(256, 3)).astype(np.uint8)
    lut[0] = 0
    lut[151] = (90, 60, 20)
    for b in range(101, 122):
        lut[b] = (230, 230, 230)
    return lut[lab]


def to_display(sl):
    """LPS array slice [i, j] -> image rows = anterior..posterior (j), columns = subject right..left?
    Radiological display: subject's right on the image left. With i toward the subject's left, column = i."""
    return sl.T


def upscale(rgb, fx, fy):
    return np.repeat(np.repeat(rgb, fy, axis=0), fx, axis=1)
