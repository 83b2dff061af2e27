#!/usr/bin/env bash
# GPU admission check on a machine with real NVIDIA GPUs (nothing beyond the project's venv).
#
# 1. capacity detection: the GPUs Airfoil finds (nvidia-smi, or CUDA_VISIBLE_DEVICES) against
#    what nvidia-smi lists;
# 2. a workflow on the process executor whose map items each ask for gpu=1: every attempt
#    prints the CUDA_VISIBLE_DEVICES it saw (and, if PyTorch is installed, the device it
#    opened), and the recorded attempts show that no more ran at once than there are GPUs
#    and that attempts running together had different GPUs.
#
# Usage: bash scripts/gpu_check.sh          (PYTHON=... to use another interpreter)
#   Where the project is not installed (a bare GPU machine with its own python3), install
#   Airfoil's dependencies as wheels and run it from the source tree:
#   PYTHONPATH=/path/to/site:$PWD/src PYTHON=python3 bash scripts/gpu_check.sh
# Exit code 0: all checks passed; 1: a check failed; 2: no nvidia-smi here.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu_check: nvidia-smi not found: this machine has no NVIDIA GPU to check" >&2
    exit 2
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export AIRFOIL_HOME="$WORK/home" AIRFOIL_EXECUTOR=process AIRFOIL_PROJECT=gpucheck
unset AIRFOIL_GPUS
echo "== nvidia-smi"
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
cat > "$WORK/gpuflow.py" <<'PY'
import os
import time

import airfoil as af


@af.task(requests=af.Resources(gpu=1))
def probe(i: int) -> str:
    seen = os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
    opened = "torch not installed"
    try:
        import torch

        if torch.cuda.is_available():
            x = torch.ones(1024, 1024, device="cuda")
            opened = (
                f"torch sees {torch.cuda.device_count()} device(s), opened "
                f"{torch.cuda.get_device_name(0)} (sum={float((x @ x).sum()):.0f})"
            )
        else:
            opened = "torch sees no CUDA device"
    except ImportError:
        pass
    time.sleep(1.0)
    return f"attempt {i}: CUDA_VISIBLE_DEVICES={seen}; {opened}"


@af.workflow
def probes(xs: list[int] = [0, 1, 2, 3]) -> list[str]:
    return af.map_task(probe)(i=xs)
PY
"$PY" - "$WORK/gpuflow.py" <<'PY'
import subprocess
import sys

from airfoil.cli._load import load_entity
from airfoil.engine.local import convert_inputs, decode_outputs, get_runtime, spec_of
from airfoil.executors.base import detect_gpus, machine_capacity
from airfoil.sdk._versioning import project_root

listed = subprocess.run(
    ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
    capture_output=True, text=True, check=True,
).stdout.split()
found = detect_gpus()
cap = machine_capacity()
print(f"== capacity: cpu={cap.cpu:g} mem={cap.mem / 2**30:.0f}Gi gpu={cap.gpu}; GPU ids {found}")
ok = True
if list(found) != listed and not __import__("os").environ.get("CUDA_VISIBLE_DEVICES"):
    print(f"FAIL: Airfoil found GPUs {found}, nvidia-smi lists {listed}")
    ok = False
rt = get_runtime()
entity = load_entity(sys.argv[1], "probes")
engine = rt.engine()
record = engine.launch(
    spec_of(entity), convert_inputs(entity, {}, rt), code_root=project_root(entity.module)
)
record = engine.drive(record.id)
print(f"== execution {record.id}: {record.phase}")
if record.phase != "succeeded":
    print(record.error)
    sys.exit(1)
for line in decode_outputs(entity, record, rt):
    print("  " + line)
attempts = [a for a in rt.meta.get_attempts(record.id) if a.node_id.endswith("]")]
edges = sorted([(a.started_at, 1) for a in attempts] + [(a.ended_at, -1) for a in attempts])
running = most = 0
for _, step in edges:
    running += step
    most = max(most, running)
print(f"== {len(attempts)} attempts, at most {most} at once on {len(found)} GPU(s)")
if most > max(1, len(found)):
    print("FAIL: more GPU attempts ran at once than there are GPUs")
    ok = False
devices = [line.split("CUDA_VISIBLE_DEVICES=")[1].split(";")[0] for line in decode_outputs(entity, record, rt)]
if any(d not in found for d in devices):
    print(f"FAIL: attempts saw devices {devices}, not among {found}")
    ok = False
rt.close()
print("== gpu_check:", "OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
PY
