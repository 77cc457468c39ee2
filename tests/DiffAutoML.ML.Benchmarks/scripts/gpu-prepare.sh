#!/usr/bin/env bash
# Prepares the two device calls of gpu-checks.sh (docs/gpu.md), from the repository root:
#   bash tests/DiffAutoML.ML.Benchmarks/scripts/gpu-prepare.sh [Fashion-MNIST IDX folder]
# .gpu/       the .NET runtime and the published tests, CLI and benchmarks (../shared/gpu/prepare.sh), trimmed of what
#             the GPU runs do not use (the HTML report renderer and its native libraries, symbols, XML docs);
# .gpu-data/  the full Fashion-MNIST as uncompressed IDX files in one xz archive (smaller than the .gz files).
# Each call must carry less than 64 MiB with the working tree; this prints both totals.
set -euo pipefail
data=${1:-artifacts/data/fashion-mnist}
root=$(git rev-parse --show-toplevel)
cd "$root"
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "no Fashion-MNIST in $data: run samples/data/get-full-fashion-mnist.sh" >&2; exit 1; }
grep -qx '/.gpu-data/' .git/info/exclude 2> /dev/null || echo '/.gpu-data/' >> .git/info/exclude

# prepare.sh refuses totals over 64 MiB after writing everything; the trimmed archive below is what counts.
../shared/gpu/prepare.sh tests/DiffAutoML.ML.Tests/DiffAutoML.ML.Tests.csproj src/DiffAutoML.Cli/DiffAutoML.Cli.csproj \
  tests/DiffAutoML.ML.Benchmarks/DiffAutoML.ML.Benchmarks.csproj || true
work=$(mktemp -d)
tar -C "$work" -xJf .gpu/app.tar.xz
( cd "$work/app" && rm -rf report libSkiaSharp.so libHarfBuzzSharp.so && find . \( -name '*.pdb' -o -name '*.xml' \) -delete )
tar -C "$work" -cf - app | xz -9 -T2 > .gpu/app.tar.xz
rm -rf "$work"

mkdir -p .gpu-data
if [ ! -f .gpu-data/data.tar.xz ]; then # the data does not change between preparations
  work=$(mktemp -d)
  for f in "$data"/*-ubyte.gz; do gzip -dc "$f" > "$work/$(basename "${f%.gz}")"; done
  tar -C "$work" -cf - . | xz -9e -T2 > .gpu-data/data.tar.xz.tmp && mv .gpu-data/data.tar.xz.tmp .gpu-data/data.tar.xz
  rm -rf "$work"
fi

tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2> /dev/null | awk '{s+=$1} END {print s+0}')
mib() { echo $(( ($1 + $(du -cb "${@:2}" | tail -1 | cut -f1)) / 1048576 )); }
echo "call 1 (carry .gpu):      about $(mib "$tree" .gpu) MiB (limit 64)"
echo "call 2 (carry .gpu-data): about $(mib "$tree" .gpu-data) MiB (limit 64)"
