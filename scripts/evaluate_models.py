#!/usr/bin/env python3
"""Evaluate LegSeg's networks on held-out phantoms (seeds never used in training) and print a per-label table.

For each case: `legseg phantom` (one seed, several field-of-view, contrast and disease settings), `legseg segment`
with the given models (default: the bundled ones) letting the classifier find the regions, `legseg evaluate` against
the phantom's truth. Prints per-case mean Dice, then Dice per label (mean over the cases holding it), as Markdown.
Needs only a built legseg (no Python packages).

    python3 scripts/evaluate_models.py [--legseg .build/release/legseg] [--models DIR] [--work /tmp/legseg-eval]
"""
import json, os
from collections import defaultdict

from legseg_cli import models, parser, run

CASES = [  # name, phantom options
    ("thigh_outphase", ["--regions", "thigh", "--fov-length", "300"]),
    ("calf_outphase", ["--regions", "lower-leg", "--fov-length", "250"]),
    ("thigh_moderate_RAS", ["--regions", "thigh", "--fov-length", "300", "--disease", "moderate", "--orientation", "RAS"]),
    ("calf_water", ["--regions", "lower-leg", "--fov-length", "250", "--contrast", "water"]),
    ("left_leg_only", ["--regions", "knee,lower-leg,thigh", "--fov-length", "400", "--legs", "left"]),
    ("hip_to_ankle", []),
    ("thigh_t1like", ["--regions", "thigh", "--fov-length", "300", "--contrast", "t1-like"]),  # last: earlier cases keep their index
]

def main():
    a = parser(__doc__, "/tmp/legseg-eval")
    a.add_argument("--seed", default="2026")
    a.add_argument("--region", default="legs")
    args = a.parse_args()
    os.makedirs(args.work, exist_ok=True)
    names = {}
    per_label = defaultdict(list)
    rows = []
    for n, (name, options) in enumerate(CASES):
        out = os.path.join(args.work, name)
        run([args.legseg, "phantom", "--out", out, "--seed", args.seed, "--first", str(n), "--quiet"] + options)
        image = os.path.join(out, f"phantom_{n:04d}_image.nii.gz")
        truth = os.path.join(out, f"phantom_{n:04d}_labels.nii.gz")
        pred = os.path.join(out, "pred.nii.gz")
        seg = [args.legseg, "segment", image, "-o", pred, "--force", "--json", "--region", args.region] + models(args)
        summary = json.loads(run(seg).strip().splitlines()[-1])
        result = json.loads(run([args.legseg, "evaluate", pred, truth, "--json", "--names", "standardized",
                                 "--labels", "1-28,31-52,55-66,101-110,151"]))
        labels = result["labels"]
        for entry in labels:
            if entry.get("presence") == "neither":
                continue  # not in this field of view
            per_label[entry["label"]].append(entry["dice"])
            names[entry["label"]] = entry.get("name") or str(entry["label"])
        muscles = [e["dice"] for e in labels if e["label"] < 100 and e.get("presence") != "neither"]
        rows.append((name, summary.get("seconds", 0), sum(muscles) / max(1, len(muscles)), len(muscles)))
    print("| case | seconds | mean muscle Dice | muscle labels |\n|---|---|---|---|")
    for name, s, d, k in rows:
        print(f"| {name} | {s:.1f} | {d:.3f} | {k} |")
    print("\n| label | Dice (mean over cases) | cases |\n|---|---|---|")
    for label in sorted(per_label):
        v = per_label[label]
        print(f"| {label} {names[label]} | {sum(v) / len(v):.3f} | {len(v)} |")

if __name__ == "__main__":
    main()
