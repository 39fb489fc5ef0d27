#!/usr/bin/env bash
# Every benchmark, one after the other, each printing its figures beside a naive baseline
# measured in the same run: bash benchmarks/run_all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "## machine: $(uname -m), $(nproc) cores, $(python -c 'import platform; print(platform.python_version())')"
python benchmarks/bench_evaluator.py
[ -f benchmarks/bench_numba.py ] && python benchmarks/bench_numba.py || echo "(numba benchmark skipped)"
python benchmarks/bench_env.py
python benchmarks/bench_search.py
python benchmarks/bench_dask.py
python benchmarks/bench_construct.py
