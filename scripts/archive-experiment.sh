#!/usr/bin/env bash
# Does the drawing archive help the model? Fill an archive by playing real games, train with and
# without it, and score both on the same held-out drawings (docs/model-card.md, "Training on the
# archive").
#
# 1. Bots play games on a local server (archiving rooms, every bot consenting) with real drawings of
#    the *training* split only, so no held-out drawing reaches the archive in another form. Bots stop
#    drawing once recognized, as players do: the archive holds what players drew, up to recognition,
#    and the drawings the model missed until the timer ended.
# 2. `train --data OFFICIAL --data ARCHIVE`, with the shipped model's recipe.
# 3. `evaluate` scores the shipped model (trained without the archive), the new one and the seed on
#    the official held-out drawings, then on the archive's own held-out drawings.
#
# Usage: scripts/archive-experiment.sh [WORK_DIR] (default runs/archive-experiment); about 15 min on
# 2 CPU cores. BOT_SECONDS (default 300) sets how long the bots play.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-runs/archive-experiment}
DATA=${DATA:-../shared/quickdraw}
BOT_SECONDS=${BOT_SECONDS:-300}
PORT=${PORT:-8799}
PY=${PY:-.venv/bin/python}
CLI="$PY -m server.cli"
mkdir -p "$WORK"
rm -rf "$WORK/archive" "$WORK/bots-data"

# The training split of the 20 default words, as flat official files, for the bots to replay.
$PY - "$DATA" "$WORK/bots-data" <<'EOF'
import gzip, json, sys
from pathlib import Path
from inference.dataset import split_of
from server.bots.library import DEFAULT_WORDS
source, target = Path(sys.argv[1]), Path(sys.argv[2])
target.mkdir(parents=True)
for kind in ("simplified", "raw"):
    for word in DEFAULT_WORDS:
        with gzip.open(source / kind / f"{word}.ndjson.gz", "rt") as lines:
            kept = [line for line in lines if line.strip() and split_of(json.loads(line)["key_id"]) == "train"]
        (target / f"full_{kind}_{word}.ndjson").write_text("".join(kept))
EOF

DOODLE_ARCHIVE_DIR="$WORK/archive" DOODLE_LOG_LEVEL=warning $CLI serve --port "$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.3; done
$CLI bots --url "ws://127.0.0.1:$PORT/" --rooms 6 --players 6 --spectators 0 --duration "$BOT_SECONDS" \
    --rounds 5 --round-seconds 20 --results-seconds 1 --wrong-share 0 --archive \
    --data "$WORK/bots-data" --quiet --json "$WORK/bots.json" || true
sleep 3  # the archiver writes the last rounds off the event loop
kill $SERVER && wait $SERVER || true
trap - EXIT
echo "archived: $(cat "$WORK"/archive/simplified/*/*/*.ndjson | wc -l) drawings"

$CLI train --data "$DATA" --data "$WORK/archive" --out "$WORK/train" --threads 2 \
    --export "$WORK/doodle20-archive.pt"
$CLI evaluate --data "$DATA" --split test --model "$WORK/doodle20-archive.pt" \
    --compare without-archive=inference/checkpoints/doodle20.pt --no-speed \
    --json "$WORK/eval-official-test.json" --figures "$WORK/figures-official"
$CLI evaluate --data "$WORK/archive" --split test --model "$WORK/doodle20-archive.pt" \
    --compare without-archive=inference/checkpoints/doodle20.pt --no-speed \
    --json "$WORK/eval-archive-test.json" --figures "$WORK/figures-archive"
