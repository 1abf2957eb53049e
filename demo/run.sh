#!/usr/bin/env bash
# Builds the demo program and runs it under leakscope (the first command of the README).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/demo
cc -g -O1 -o target/demo/leaky demo/leaky.c
exec cargo run --release -q -p leakscope -- run --show-reachable "$@" -- target/demo/leaky
