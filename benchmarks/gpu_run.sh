#!/usr/bin/env bash
# The GPU check, prepared to run in one go on a machine with a CUDA GPU (for example the lent device):
#   bash benchmarks/gpu_run.sh            # COURSE_FAST=1: unit tests, the fast course, the benchmarks on cuda
# It records its figures in benchmarks/results/*-cuda.json (next to the CPU ones) and prints a summary;
# run `python benchmarks/run_all.py --only training_throughput` afterwards on the CPU machine to
# rebuild RESULTS.md, whose GPU column reads those files.
# Where python3 lacks a package of the pins (diffusers, nbclient, …), install it first; torch stays the
# machine's own CUDA build.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
export COURSE_FAST=1 PYTHONUNBUFFERED=1
$PY - <<'PY' || { echo "no CUDA device visible: this script is for a GPU machine"; exit 1; }
import torch
assert torch.cuda.is_available()
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
status=0
run() { echo "== $*"; "$@" || { echo "(failed: $*)"; status=1; }; }
run $PY -m pytest -q -p no:cacheprovider tests --ignore=tests/browser -x -k "not two_processes"
run $PY benchmarks/training_throughput.py --steps 10
[ -f benchmarks/sampler_speed.py ] && run $PY benchmarks/sampler_speed.py
[ -f benchmarks/text_to_image_speed.py ] && run $PY benchmarks/text_to_image_speed.py
if $PY -c "import nbclient, ipykernel" 2>/dev/null; then
  run $PY benchmarks/course_time.py --mode fast
else
  echo "(skipped the fast course: nbclient/ipykernel are not installed here)"
fi
ls benchmarks/results/*-cuda.json 2>/dev/null
exit $status
