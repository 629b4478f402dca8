#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system packages, the format check, build, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The code stays in the committed format (.swift-format); `swift format --in-place
# --recursive --configuration .swift-format Sources Tests fuzz Package.swift` applies it.
swift format lint --strict --recursive --configuration .swift-format Sources Tests fuzz Package.swift
swift build --build-tests
swift test --skip-build --no-parallel
