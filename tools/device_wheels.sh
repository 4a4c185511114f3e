#!/usr/bin/env bash
# Prepare what tools/device_check.sh needs on a lent GPU machine that reaches no package index:
# wheels of this project and of the packages that machine lacks, in .whl/ (git-ignored via .git/info/exclude).
#
#   tools/device_wheels.sh [PYTHON_VERSION]     # default 3.12: the device image's python3 (KINDS.md)
#
# The device image already holds torch, transformers, tokenizers, safetensors, numpy, pyyaml, hypothesis,
# pytest, pytest-xdist, pytest-timeout, pytest-benchmark and matplotlib; jsonschema and its dependencies are
# not there (attrs is, but is carried too so that a bare Python with torch can run the same check).
set -euo pipefail
cd "$(dirname "$0")/.."
PYV="${1:-3.12}"
mkdir -p .git/info && grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir .whl
python3 -m pip wheel --quiet --no-deps --no-build-isolation -w .whl . 2>/dev/null \
  || python3 -m pip wheel --quiet --no-deps -w .whl .
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl "attrs==26.1.0" "jsonschema==4.26.0" "jsonschema-specifications==2025.9.1" "referencing==0.37.0" "rpds-py==2026.9.1"
ls -l .whl
du -sh .whl
