#!/usr/bin/env bash
# The shipped 345-word recognizer, from the teacher's files to the checkpoint the server loads
# (docs/model-card.md). About 40 minutes on 2 CPU cores, most of it step 2.
#
# 1. Import DoodleNet (ml5.js, TensorFlow.js layers files) as a checkpoint: the starting weights
#    and the teacher.
# 2. Train on prefixes of every stroke drawing and on the bitmaps (inference/train.py), blended back
#    towards DoodleNet as far as validation says complete drawings need.
# 3. Choose the decision rule on the validation split's timed drawings (inference/sweep.py), for
#    our model and, to compare fairly, for DoodleNet.
# 4. Evaluate on the test split: the model card, its figures, the JSON, and the per-word figures
#    the server rates word-pack difficulty from (shipped beside the checkpoint).
#
# Usage: scripts/train-345.sh [WORK_DIR] (default runs/doodle345); SHIP=1 also copies the result
# over inference/checkpoints/doodle345.pt and its words file.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-runs/doodle345}
DATA=${DATA:-../shared/quickdraw}
TEACHER=${TEACHER:-../shared/teachers/doodlenet}
CLI=${CLI:-.venv/bin/doodle-party}
mkdir -p "$WORK"

$CLI data import-tfjs "$TEACHER" --out "$WORK/doodlenet.pt"
$CLI train --data "$DATA" --init "$WORK/doodlenet.pt" --teacher "$WORK/doodlenet.pt" --out "$WORK/train" \
    --epochs 3 --lr 1.5e-4 --variants 16 --bitmaps-per-class 200 --live-share 1.0 --threads 2
$CLI rule "$WORK/train/model.pt" --data "$DATA" --out "$WORK/doodle345.pt" --table "$WORK/rule.json"
# The yardstick judged fairly: DoodleNet with a rule chosen for it the same way.
$CLI rule "$WORK/doodlenet.pt" --data "$DATA" --out "$WORK/doodlenet-ruled.pt" --table "$WORK/doodlenet-rule.json"
$CLI evaluate --data "$DATA" --split test --model "$WORK/doodle345.pt" --teacher "$WORK/doodlenet-ruled.pt" \
    --json "$WORK/eval.json" --figures "$WORK/figures" --model-card "$WORK/model-card.md" \
    --words-file "$WORK/doodle345.words.json"
if [ "${SHIP:-0}" = 1 ]; then
    cp "$WORK/doodle345.pt" inference/checkpoints/doodle345.pt
    cp "$WORK/doodle345.words.json" inference/checkpoints/doodle345.words.json
fi
