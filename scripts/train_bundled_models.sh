#!/usr/bin/env bash
# Trains LegSeg's bundled networks exactly as shipped (see docs/models/), then exports them into the package.
# Checkpoints go to $CKPT (outside the repository); rerun with RESUME=1 to continue an interrupted run.
# On a 2-core laptop-class CPU the two UNets take about 65 + 25 + 15 minutes (three stages) when trained side by
# side (one thread each), the classifier about 5 minutes (mostly phantom generation).
#
#   scripts/train_bundled_models.sh            # train all three, then export to Sources/LegSegModels/DefaultModels
#   CKPT=/data/ckpt RESUME=1 scripts/train_bundled_models.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LEGSEG=${LEGSEG:-.build/release/legseg}
CKPT=${CKPT:-/tmp/legseg-train}
RESUME_FLAG=${RESUME:+--resume}
mkdir -p "$CKPT"
for net in thigh lowerleg; do
  OMP_NUM_THREADS=1 "$LEGSEG" train --network $net --out "$CKPT/$net" --phantoms 24 --validation-phantoms 4 \
    --rounds 48 --batches-per-round 50 --base 16 --depth 4 --patch 16,64,64 --seed 7 --json $RESUME_FLAG \
    >> "$CKPT/$net.log" &
done
wait
# Stage 2: a warm restart (new warm-up/plateau/cosine schedule) from stage 1's weights, on 24 new phantoms.
for net in thigh lowerleg; do
  OMP_NUM_THREADS=1 "$LEGSEG" train --network $net --init "$CKPT/$net/$net.json" --out "$CKPT/$net-2" --phantoms 24 \
    --validation-phantoms 4 --rounds 20 --batches-per-round 50 --patch 16,64,64 --seed 8 --json $RESUME_FLAG \
    >> "$CKPT/$net-2.log" &
done
wait
# Stage 3: a short warm restart on 16 new phantoms (seed 9), after the augmentation stopped adding noise to the
# zero background (the shipped networks were trained that way; stages 1 and 2 predate the fix).
for spec in thigh:10:2 lowerleg:18:4; do  # the shipped lower-leg network is this run stopped after round 9
  IFS=: read -r net rounds validation <<< "$spec"
  OMP_NUM_THREADS=1 "$LEGSEG" train --network $net --init "$CKPT/$net-2/$net.json" --out "$CKPT/$net-3" --phantoms 16 \
    --validation-phantoms $validation --rounds $rounds --batches-per-round 50 --patch 16,64,64 --seed 9 --json $RESUME_FLAG \
    >> "$CKPT/$net-3.log" &
done
OMP_NUM_THREADS=1 "$LEGSEG" train --network classifier --out "$CKPT/classifier" --phantoms 36 --validation-phantoms 6 \
  --rounds 30 --batches-per-round 100 --batch 32 --seed 11 --json $RESUME_FLAG >> "$CKPT/classifier.log"
wait
# Stage 4: semi-supervised fine-tuning (docs/training.md) on the unlabelled QMRITools stations, never on test_up /
# test_low (held out for the cards): the thigh network on station_5 and station_7, the lower-leg network on
# station_3 (station_1, the foot, made it worse), each with 12 new phantoms (seed 13, whose contrasts include T1-like)
# and 3 for validation.
DATA=${DATA:-../shared/data/qmritools}
mkdir -p "$CKPT/unlabelled-thigh" "$CKPT/unlabelled-lowerleg"
for f in station_5 station_7; do ln -sf "$(realpath "$DATA/$f.nii.gz")" "$CKPT/unlabelled-thigh/"; done
for f in station_3; do ln -sf "$(realpath "$DATA/$f.nii.gz")" "$CKPT/unlabelled-lowerleg/"; done
for net in thigh lowerleg; do
  OMP_NUM_THREADS=1 "$LEGSEG" train --network $net --init "$CKPT/$net-3/$net.json" --unlabelled "$CKPT/unlabelled-$net" \
    --phantoms 12 --validation-phantoms 3 --rounds 24 --batches-per-round 50 --patch 16,64,64 --seed 13 --json $RESUME_FLAG \
    --out "$CKPT/$net-4" >> "$CKPT/$net-4.log" &
done
wait
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
for net in thigh-4/thigh lowerleg-4/lowerleg classifier/classifier; do
  "$LEGSEG" export "$CKPT/$net.json" --out Sources/LegSegModels/DefaultModels --dtype f16 \
    --provenance "trainingScript=scripts/train_bundled_models.sh" --provenance "sourceCommit=$commit"
done
