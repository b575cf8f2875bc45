#!/usr/bin/env bash
# Download the wheels that benchmarks/gpu_check.py needs beyond a CUDA machine's stock
# PyTorch image (torch, transformers, tokenizers, safetensors, numpy, pillow, scipy,
# matplotlib, opencv, pyyaml, tqdm are assumed present), for a machine with no network:
#
#   bash benchmarks/gpu_wheels.sh 3.12 .whl      # here, where PyPI is reachable
#   # there, from the repo root:
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
#   PYTHONPATH=/tmp/site:. python3 benchmarks/gpu_check.py --out gpu_results.json
#
# Versions are the ones the test suite runs with. --no-deps: this list is the closure
# gpu_check imports (checked by importing it in a bare venv; see benchmarks/README.md).
set -euo pipefail
PYTHON_VERSION=${1:-3.12}
DEST=${2:-.whl}
PACKAGES=(
  pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  typing-extensions==4.16.0
  polars==2.1.0 polars-runtime-32==2.1.0
  webdataset==1.0.2 braceexpand==0.1.7
  supervision==0.31.2 defusedxml==0.7.1 pyDeprecate==0.13.0
)
PLATFORMS=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 \
           manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  PLATFORMS+=(--platform "$tag")
done
mkdir -p "$DEST"
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --python-version "$PYTHON_VERSION" --implementation cp "${PLATFORMS[@]}" \
  -d "$DEST" "${PACKAGES[@]}"
ls "$DEST"
