#!/usr/bin/env bash
# The whole test suite: the main workspace (trace format, analyzer, reports, and the CLI's end-to-end corpus
# run under the real agent, cross-checked against Valgrind Memcheck) and the agent's own unit tests, which
# live in a separate workspace because the agent is no_std. Installs gcc/g++/valgrind first when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace "$@"
cargo test --manifest-path crates/leakscope-agent/Cargo.toml "$@"
