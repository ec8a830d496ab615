#!/usr/bin/env bash
# `gke-cluster =` of a present cluster against the GCP emulator, next to one
# `gcloud` process against the same emulator: the median wall time of RUNS
# runs of each, alternating, and their ratio. The tool reads the cluster and
# its firewall rule side by side, so it should cost about one gcloud.
#
#   benches/gke_cluster_status.sh [RUNS]      # default 9
#
# Needs gcloud, openssl and python3 on PATH; builds the binaries first.
set -euo pipefail
runs=${1:-9}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$root/Cargo.toml" --features emulator \
    --bin gke-cluster --bin kas-emulator
bin="${CARGO_TARGET_DIR:-$root/target}/debug"

work=$(mktemp -d)
cleanup() {
    if [ -n "${KAS_EMULATOR_PID:-}" ]; then kill "$KAS_EMULATOR_PID" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
cat > kas.yaml <<'YAML'
gcloud:
  configuration: kas
  project: test-project
gke:
  gpu_driver_installer: ''
YAML
eval "$("$bin/kas-emulator" gcp 2>/dev/null &)"
"$bin/gke-cluster" + --cidr 203.0.113.7/32 >/dev/null 2>&1

# Milliseconds of wall time of one run of "$@".
ms() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

gcloud_one=(gcloud container clusters list --zone=europe-west4-a --project=test-project --format=json)
"$bin/gke-cluster" = >/dev/null    # exit 0: the cluster is there
: > gcloud.ms
: > tool.ms
for _ in $(seq "$runs"); do
    ms "${gcloud_one[@]}" >> gcloud.ms
    ms "$bin/gke-cluster" = >> tool.ms
done
g=$(median < gcloud.ms)
t=$(median < tool.ms)
echo "one gcloud (clusters list):  median ${g} ms of $runs runs: $(tr '\n' ' ' < gcloud.ms)"
echo "gke-cluster = (present):     median ${t} ms of $runs runs: $(tr '\n' ' ' < tool.ms)"
awk -v t="$t" -v g="$g" 'BEGIN { printf "ratio: %.2f\n", t / g }'
