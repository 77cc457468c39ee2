#!/usr/bin/env bash
# The estimator's evidence on the full Fashion-MNIST: full DiffAutoML and its three ablations, one after the other,
# each with the same seed and the same wall-clock budget, through the published CLI (so that rebuilding the repo while
# it runs cannot change the binaries under it). Writes artifacts/evidence/<row>/ and prints a Markdown table.
# Usage: bash tests/DiffAutoML.ML.Benchmarks/scripts/full-fashion-mnist-evidence.sh [budget=30m] [rows="All None Architecture Augmentation,HyperParameters"]
# EVIDENCE_CPUS=0 pins every row to CPU 0 with one thread (taskset), so that other work can use the other cores
# without disturbing the rows (libtorch's thread pool slows down badly when it shares cores).
# EVIDENCE_OUT=<folder> writes there instead of artifacts/evidence (two invocations pinned to different CPUs can then
# run side by side; start the second after the first has published its CLI).
# EVIDENCE_ARGS="--search-fraction 0.15" passes further options to every row's `diffautoml train`.
# EVIDENCE_SEED=2 runs every row with that seed (default 1).
# EVIDENCE_ARCHITECTURE="xc k3 k3 k3 k3 k3 k3 k3 k3 k3" passes it as --architecture (rows without Architecture).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
budget=${1:-30m}
rows=${2:-"All None Architecture Augmentation,HyperParameters"}
data=$root/artifacts/data/fashion-mnist
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "Run samples/data/get-full-fashion-mnist.sh first." >&2; exit 1; }
out=${EVIDENCE_OUT:-$root/artifacts/evidence}
cli=$out/cli
mkdir -p "$out"
dotnet publish "$root/src/DiffAutoML.Cli" -c Release -o "$cli" --nologo -v q
git -C "$root" rev-parse HEAD > "$out/commit.txt"
for row in $rows; do
  name=$(echo "$row" | tr ',' '+')
  start=$(date +%s)
  pin=()
  if [ -n "${EVIDENCE_CPUS:-}" ]; then pin=(taskset -c "$EVIDENCE_CPUS"); export OMP_NUM_THREADS=$(echo "$EVIDENCE_CPUS" | tr ',' '\n' | wc -l); fi
  "${pin[@]}" "$cli/diffautoml" train "$data/train-images-idx3-ubyte.gz" --test "$data/t10k-images-idx3-ubyte.gz" --fashion-mnist \
    --time-budget "$budget" --components "$row" --seed "${EVIDENCE_SEED:-1}" --fresh --quiet --out "$out/$name" ${EVIDENCE_ARGS:-} ${EVIDENCE_ARCHITECTURE:+--architecture "$EVIDENCE_ARCHITECTURE"} > "$out/$name.log" 2>&1
  echo "$row: $(( $(date +%s) - start )) s, CPUs ${EVIDENCE_CPUS:-all}, seed ${EVIDENCE_SEED:-1}, arguments: ${EVIDENCE_ARGS:-none}${EVIDENCE_ARCHITECTURE:+, architecture $EVIDENCE_ARCHITECTURE}" >> "$out/wall.txt"
done
python3 - "$out" $rows <<'PY'
import json, sys, os
out = sys.argv[1]
print("| components | test accuracy | validation | epochs (search) | wall time | architecture | MFLOPs |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for row in sys.argv[2:]:
    d = os.path.join(out, row.replace(",", "+"))
    r = json.load(open(os.path.join(d, "report.json")))
    t = json.load(open(os.path.join(d, "test-metrics.json")))
    acc = t.get("MicroAccuracy", t.get("Accuracy"))
    print(f"| {row} | {acc:.2%} | {r['ValidationAccuracy']:.2%} | {r['EpochsCompleted']} ({r['SearchEpochs']}) | {r['TotalSeconds']:.0f} s | {r['Architecture']} | {r['MFlops']:.2f} |")
PY
