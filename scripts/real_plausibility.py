#!/usr/bin/env python3
"""Label-free plausibility of LegSeg's networks on real scans (no ground truth exists for them).

For each scan: `legseg segment` with the given models (default: the bundled ones), then from its statistics CSV:
muscle labels found, and left/right agreement of the muscle volumes, which real legs of one subject have to within a
few per cent (Handsfield et al. 2014 report side differences of about 5 %; see ../shared/reference/leg-anatomy.md):
- `paired`: muscles found on both legs; `one_sided`: found on one leg only;
- `asym`: median over paired muscles of |log2(V_left / V_right)| (0 = identical volumes, 1 = a factor of two).
Lower asym and fewer one-sided labels are more plausible. Needs only a built legseg (no Python packages).

    python3 scripts/real_plausibility.py [--legseg .build/release/legseg] [--models DIR] [SCAN ...]
"""
import csv, math, os, statistics, sys

from legseg_cli import models, parser, run

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "qmritools")

def main():
    a = parser(__doc__, "/tmp/legseg-plausibility")
    a.add_argument("scans", nargs="*")
    args = a.parse_args()
    scans = args.scans or [os.path.join(DATA, n) for n in ("test_up.nii.gz", "test_low.nii.gz")]
    os.makedirs(args.work, exist_ok=True)
    print("| scan | muscle labels | paired | one-sided | asym (median abs log2 L/R) |")
    print("|---|---|---|---|---|")
    for scan in scans:
        if not os.path.exists(scan):
            sys.exit(f"{scan}: not found")
        stem = os.path.basename(scan).split(".")[0]
        out = os.path.join(args.work, stem + "_labels.nii.gz")
        run([args.legseg, "segment", scan, "-o", out, "--force", "--quiet"] + models(args))
        volumes = {}
        with open(os.path.join(args.work, stem + "_stats.csv")) as f:
            for row in csv.DictReader(f):
                volumes[row["name"]] = float(row["volume_ml"])
        bones = {"Femur", "Tibia", "Fibula", "Patella", "Ilium", "Sacrum", "Talus", "Calcaneus"}  # whole names: "Fibularis" is a muscle
        muscles = {n: v for n, v in volumes.items() if n.rsplit("_", 1)[0] not in bones and not n.startswith("Subcutan")}
        bases = {n.rsplit("_", 1)[0] for n in muscles if n.endswith(("_Left", "_Right"))}
        ratios, one_sided = [], 0
        for b in sorted(bases):
            l, r = muscles.get(b + "_Left", 0), muscles.get(b + "_Right", 0)
            if l > 0 and r > 0:
                ratios.append(abs(math.log2(l / r)))
            else:
                one_sided += 1
        asym = statistics.median(ratios) if ratios else float("nan")
        print(f"| {stem} | {len(muscles)} | {len(ratios)} | {one_sided} | {asym:.3f} |")

if __name__ == "__main__":
    main()
