#!/usr/bin/env bash
# Installs the full Fashion-MNIST (70,000 images, MIT licence, Zalando) from Debian's package and converts it to the
# layouts of the shipped subset: gzip IDX files, plus one PNG per image in class sub-folders (train-png/, test-png/).
# Output: artifacts/data/fashion-mnist (ignored by git). Used by the benchmarks.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/artifacts/data/fashion-mnist}
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; else sudo apt-get install -y dataset-fashion-mnist; fi
fi
dotnet run -c Release --project "$root/tests/DiffAutoML.ML.Benchmarks" -- prepare-full /usr/share/datasets/fashion-mnist "$out"
