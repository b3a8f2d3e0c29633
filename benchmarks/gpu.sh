#!/usr/bin/env bash
# The GPU figures in one short run (issue 14), on a machine with one CUDA GPU and a stock PyTorch image:
# fine-tuning throughput and MFU of base- and large-sized wav2vec2 (the workbench's settings against the
# report's), the latency of classifying an upload with a base-sized run, and embedding extraction
# throughput, and where a fine-tuning step's time goes (finetune_probe.py). Each part has its own time limit, so one failure
# leaves the others' figures; everything lands in $OUT (default benchmarks/results/gpu/).
#
#   bash benchmarks/gpu.sh                    # all parts
#   PARTS="inference" bash benchmarks/gpu.sh  # some: finetune-large finetune-base inference embeddings probe
#   PARTS="finetune-next" bash benchmarks/gpu.sh  # the candidates of NOTES.md (cuDNN autotuning, positional
#                                                 # convolution in fp32), two passes each, large
#   LARGE="report workbench" BASE=... bash benchmarks/gpu.sh   # fewer fine-tuning settings (default: all)
#
# Packages the image lacks (the pinned transformers, soundfile, soxr) are installed from wheels in .whl/
# when that folder exists (pip download ... -d .whl, see /work/.library/device/README.md); elsewhere the
# environment must already hold requirements.txt's runtime packages.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/gpu}
PY=${PYTHON:-python3}
PARTS=${PARTS:-finetune-large finetune-base inference embeddings probe}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1

WHEELS=${WHEELS:-.whl}  # WHEELS=none: use the environment as it is
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl \
    || { echo "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site
fi
{ nvidia-smi; df -h /dev/shm; nproc; free -g; } >"$OUT/machine.txt" 2>&1
"$PY" -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'transformers', transformers.__version__, torch.cuda.get_device_name(0))" 2>&1 | tee "$OUT/versions.txt"

part() {  # part NAME SECONDS COMMAND...: run with a time limit, stderr to $OUT/gpu.log, say how it ended
  local name=$1 limit=$2; shift 2
  case " $PARTS " in *" $name "*) ;; *) return ;; esac
  local start=$SECONDS
  echo "=== $name: $*" >>"$OUT/gpu.log"
  timeout "$limit" "$@" >/dev/null 2>>"$OUT/gpu.log"
  local rc=$?
  echo "=== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$OUT/gpu.log"
}

# at most 8 files come back from the device machine: machine.txt, gpu.log and one JSON per part
ALL="report workbench workbench-8x4 workbench-unbucketed"
part finetune-large 230 "$PY" benchmarks/finetune.py --sizes large --clips 1536 --settings ${LARGE:-$ALL} \
  --out "$OUT/finetune-large.json"
part finetune-base 150 "$PY" benchmarks/finetune.py --sizes base --clips 1536 --settings ${BASE:-$ALL} \
  --out "$OUT/finetune-base.json"
part finetune-next 300 "$PY" benchmarks/finetune.py --sizes large --clips 1024 --passes 2 \
  --settings report workbench workbench-cudnn workbench-posconv32 workbench-tuned --out "$OUT/finetune-next.json"
part inference 90 "$PY" benchmarks/inference.py --out "$OUT/inference-gpu.json"
part embeddings 120 "$PY" benchmarks/embeddings.py --device cuda --size base large --out "$OUT/embeddings-gpu.json"
part probe 100 "$PY" benchmarks/finetune_probe.py --out "$OUT/probe.json"
cat "$OUT/versions.txt" >>"$OUT/machine.txt"; rm -f "$OUT/versions.txt"
ls -la "$OUT"
