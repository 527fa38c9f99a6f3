#!/usr/bin/env bash
# setup-native.sh: make sure the BPF toolchain is present (installing it via apt-get as root), then build the BPF objects.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
command -v llvm-strip >/dev/null 2>&1 || need+=(llvm)
command -v bpftool >/dev/null 2>&1 || [ -x /usr/sbin/bpftool ] || need+=(bpftool)
[ -f /usr/include/bpf/libbpf.h ] || need+=(libbpf-dev)
[ -f /usr/include/gelf.h ] || need+=(libelf-dev)
command -v make >/dev/null 2>&1 || need+=(make)
# The RocksDB benchmarks' packages: the native server builds against librocksdb-dev, db_bench is rocksdb-tools.
# Wanted, not needed: without root they are named and skipped, and those benchmarks say what is missing.
want=()
[ -f /usr/include/rocksdb/db.h ] || want+=(librocksdb-dev)
command -v db_bench >/dev/null 2>&1 || want+=(rocksdb-tools)
if [ ${#want[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    need+=("${want[@]}")
  else
    echo "syrup: not installing ${want[*]} (needs root): the RocksDB benchmarks will not run" >&2
  fi
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "syrup: installing ${need[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "syrup: missing build dependencies: ${need[*]}" >&2
    echo "syrup: install them (e.g. 'sudo apt-get install -y ${need[*]}') and run npm install again" >&2
    exit 1
  fi
fi
export PATH="$PATH:/usr/sbin"

make -s -C kernel-shim
make -s -C client
if [ -f net/Makefile ]; then make -s -C net; fi
