#!/usr/bin/env bash
# Synthetic-to-real transfer: train on grain_boundaries only, then score on every
# development set found, beside the Otsu and k-means baselines.
#
#   bash benchmarks/transfer.sh [RUN_DIR] [MINUTES] [ENTROPY]
#
# Prints one line per set: boundary F1 at 2 px of the model and of the best baseline, on
# thinned lines (the headline figure) and on the lines as drawn (unthinned), and the grains
# the predicted lines enclose against the truth's.
set -euo pipefail
run=${1:-runs/transfer}
minutes=${2:-30}
entropy=${3:-0}
real=${SYNTHSCOPE_REAL:-../shared/data/real}
sets=(isbi2012-em-membrane mpunet-grain-boundary-mini tbm-grain-boundaries)

if [[ ! -f "$run/summary.json" ]]; then
    synthscope train --recipe grain_boundaries --out "$run" --max-minutes "$minutes" --entropy "$entropy"
fi
for s in "${sets[@]}"; do
    if [[ ! -d "$real/$s" ]]; then
        echo "$s: skipped ($real/$s not found)"
        continue
    fi
    rm -rf "$run/report-$s"
    synthscope evaluate "$run" --real "$real/$s" --out "$run/report-$s" > "$run/evaluate-$s.log" 2>&1 \
        || { cat "$run/evaluate-$s.log"; exit 1; }
    python - "$run/report-$s/report.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["datasets"][0]
b = d["best_baseline"]
bu = max(d["baselines"], key=lambda k: d["baselines"][k]["boundary_f1_unthinned"])
print(f"{d['name']:28s} boundary F1 {d['model']['boundary_f1']:.3f}  "
      f"(P {d['model']['boundary_precision']:.3f}, R {d['model']['boundary_recall']:.3f}, "
      f"mean IoU {d['model']['mean_iou']:.3f}; unthinned F1 {d['model']['boundary_f1_unthinned']:.3f})  "
      f"best baseline {b} {d['baselines'][b]['boundary_f1']:.3f} (unthinned: {bu} "
      f"{d['baselines'][bu]['boundary_f1_unthinned']:.3f})")
m = d["model"]
if "grain_count_pred" in m:
    print(f"{'':28s} grains per image {m['grain_count_pred']:.1f} (truth {m['grain_count_true']:.1f}), "
          f"ASTM number {m['astm_pred']:.2f} (truth {m['astm_true']:.2f})")
PY
done
