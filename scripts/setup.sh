#!/usr/bin/env bash
# Installs the system tools leakscope's tests and benchmarks use, when absent (Debian/Ubuntu, as root).
set -euo pipefail
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v valgrind >/dev/null || need+=(valgrind)
if [ "${1:-}" = "--bench" ]; then
    command -v heaptrack >/dev/null || need+=(heaptrack)
    command -v sqlite3 >/dev/null || need+=(sqlite3)
    command -v zstd >/dev/null || need+=(zstd)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
