#!/usr/bin/env bash
# Rehearses gpu-checks.sh's two device calls on this machine, without a GPU, before device time is spent on them
# (docs/gpu.md, "Running the checks on the GPU machine"). Run from the repository root after gpu-prepare.sh:
#   bash tests/DiffAutoML.ML.Benchmarks/scripts/gpu-dry-run.sh
# Stand-ins on PATH answer for what only the GPU machine has: nvidia-smi, and PyTorch's library folder (here the CPU
# libtorch from the NuGet cache, so that the carried apps load as they will there). It checks the flow, not the GPU:
# the carried runtime and apps unpack and start, the CUDA tests' runner starts (they skip), each CUDA benchmark fails
# fast with its CUDA error and the script goes on, and the search call unpacks the data, trains one short search on the
# CPU (GPU_DEVICE=cpu, with --precision BFloat16 passed on as a chosen precision would be), and brings back its log, report and model, scored by flip-averaging. Results go to $OUT
# (default /tmp/gpu-dry-run), one folder per call; exit status 1 when an expected file is missing or a call would
# bring back more than the device tool returns (8 files of 16 MiB).
set -uo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
[ -f .gpu/app.tar.xz ] && [ -f .gpu-data/data.tar.xz ] || { echo "run gpu-prepare.sh first" >&2; exit 2; }
lib=$(ls -d "${NUGET_PACKAGES:-$HOME/.nuget/packages}"/libtorch-cpu-linux-x64/*/runtimes/linux-x64/native 2> /dev/null | sort -V | tail -1)
[ -n "$lib" ] || { echo "no CPU libtorch in the NuGet cache: build the solution first" >&2; exit 2; }
out=${OUT:-/tmp/gpu-dry-run}
rm -rf "$out" && mkdir -p "$out"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
python=$(command -v python3)
cat > "$bin/python3" << EOF
#!/usr/bin/env bash
# PyTorch's folder and version, as the GPU machine's python3 answers them; anything else goes to the real python3.
if [ "\${1:-}" = -c ] && [[ "\${2:-}" == *"import torch"* ]]; then
  case "\$2" in *__version__*) echo "dry-run" ;; *) echo "$lib" ;; esac
  exit 0
fi
exec "$python" "\$@"
EOF
cat > "$bin/nvidia-smi" << 'EOF'
#!/usr/bin/env bash
case "$*" in *memory.used*) echo 0 ;; *) echo "nvidia-smi: dry-run stand-in" ;; esac
EOF
chmod +x "$bin/python3" "$bin/nvidia-smi"
export PATH="$bin:$PATH"

# Each device call has an $OUT of its own, and brings back at most 8 files of at most 16 MiB each.
echo "== steps call (the CUDA tests skip, the CUDA benchmarks fail fast)"
OUT="$out/steps" GPU_SKIP_COMPARE=1 bash tests/DiffAutoML.ML.Benchmarks/scripts/gpu-checks.sh steps > "$out/steps-call.txt" 2>&1
echo "== search call (one short search on the CPU)"
OUT="$out/search" GPU_DEVICE=cpu GPU_PRECISION=${GPU_PRECISION:-BFloat16} GPU_SEARCH_BUDGET=${GPU_SEARCH_BUDGET:-90s} \
  GPU_CONFIGS="${GPU_CONFIGS:-d:--components HyperParameters --batch 256 --crop-padding 2 --flip true --cutout 8}" \
  bash tests/DiffAutoML.ML.Benchmarks/scripts/gpu-checks.sh search > "$out/search-call.txt" 2>&1

missing=0
for f in progress.txt cuda-tests.txt cudnn-benchmark.txt row-costs.txt; do
  [ -s "$out/steps/$f" ] || { echo "missing: steps/$f"; missing=1; }
done
grep -q 'TEST EXECUTION SUMMARY' "$out/steps/cuda-tests.txt" || { echo "the CUDA tests' runner did not report"; missing=1; }
for f in "$out"/search/fmnist-*.txt; do
  name=$(basename "$f" .txt)
  grep -q 'test accuracy' "$f" || { echo "$name: no test accuracy"; missing=1; }
  for ext in json onnx; do [ -s "$out/search/$name.$ext" ] || { echo "missing: search/$name.$ext"; missing=1; }; done
done
# The precision choice reaches the CLI (on the CPU it trains in float32 and says so).
grep -q 'precision for the searches: Float32' "$out/steps/progress.txt" || { echo "the steps call did not choose a precision"; missing=1; }
grep -q -- "--precision ${GPU_PRECISION:-BFloat16}" "$out"/search/fmnist-*.txt || { echo "the searches did not get the precision"; missing=1; }
grep -q '| model | as is' "$out/search/progress.txt" || { echo "flip-averaging did not report"; missing=1; }
for call in steps search; do
  n=$(find "$out/$call" -type f | wc -l)
  big=$(find "$out/$call" -type f -size +16M | wc -l)
  echo "$call call: $n files ($(cd "$out/$call" && ls | tr '\n' ' '))"
  [ "$n" -le 8 ] && [ "$big" = 0 ] || { echo "$call call: more than 8 files, or one over 16 MiB: not all would come back"; missing=1; }
done
grep -H 'test accuracy' "$out"/search/fmnist-*.txt
[ "$missing" = 0 ] && echo "dry run: the flow is complete" || echo "dry run: something is missing (above)"
exit "$missing"
