#!/usr/bin/env bash
# Downloads a libtorch archive (the worker image's CUDA libtorch, at image
# build time only), checks its SHA-256 when given, and unpacks it to DEST
# (DEST/share/cmake/Torch is what -DTUNEFLEET_TORCH_PREFIX wants).
#   fetch_libtorch.sh URL SHA256|"" DEST
# Idempotent: an existing DEST with TorchConfig.cmake is kept.
set -euo pipefail
url=${1:?url}
sha=${2-}
dest=${3:?destination}
if [[ -f $dest/share/cmake/Torch/TorchConfig.cmake ]]; then
  echo "fetch_libtorch: $dest already holds libtorch"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl --fail --location --silent --show-error --retry 3 -o "$work/libtorch.zip" "$url"
actual=$(sha256sum "$work/libtorch.zip" | cut -d' ' -f1)
if [[ -n $sha && $actual != "$sha" ]]; then
  echo "fetch_libtorch: $url has SHA-256 $actual, expected $sha" >&2
  exit 1
fi
[[ -n $sha ]] || echo "fetch_libtorch: WARNING: no SHA-256 given; $url has $actual"
unzip -q "$work/libtorch.zip" -d "$work/x"
[[ -f $work/x/libtorch/share/cmake/Torch/TorchConfig.cmake ]] || { echo "fetch_libtorch: no libtorch/ in the archive" >&2; exit 1; }
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$work/x/libtorch" "$dest"
echo "fetch_libtorch: $dest"
