#!/usr/bin/env bash
# `gke-cluster =` of a present cluster against the GCP emulator, next to one
# `gcloud` process against the same emulator: the median wall time of RUNS
# runs of each, alternating, and the ratios. The tool reads the cluster
# (`gcloud container clusters list`) and its firewall rule (`gcloud compute
# firewall-rules describe`) side by side, so it should cost about as much as
# the slower of those two single gcloud processes.
#
#   benches/gke_cluster_status.sh [RUNS]      # default 9
#
# Needs gcloud, openssl and python3 on PATH; builds the binaries first. Two
# reads side by side need two free cores: on a machine busy with other work
# the figures say more about that work (`chrt -r 1 benches/...` as root
# gives the runs the cores first).
set -euo pipefail
runs=${1:-9}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$root/Cargo.toml" \
    --bin gke-cluster -p kas-infra -p kas-emulator --bin kas-emulator
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

list=(gcloud container clusters list --zone=europe-west4-a --project=test-project --format=json)
rule=(gcloud compute firewall-rules describe x-ray-default --project=test-project --format=json)
"$bin/gke-cluster" = >/dev/null    # exit 0: the cluster is there
: > list.ms
: > rule.ms
: > tool.ms
for _ in $(seq "$runs"); do
    ms "${list[@]}" >> list.ms
    ms "${rule[@]}" >> rule.ms
    ms "$bin/gke-cluster" = >> tool.ms
done
l=$(median < list.ms)
r=$(median < rule.ms)
t=$(median < tool.ms)
echo "gcloud container clusters list:          median ${l} ms of $runs: $(tr '\n' ' ' < list.ms)"
echo "gcloud compute firewall-rules describe:  median ${r} ms of $runs: $(tr '\n' ' ' < rule.ms)"
echo "gke-cluster = (present):                 median ${t} ms of $runs: $(tr '\n' ' ' < tool.ms)"
awk -v t="$t" -v l="$l" -v r="$r" 'BEGIN {
    printf "gke-cluster = / clusters list: %.2f;  / firewall-rules describe: %.2f;  / both one after the other: %.2f\n", t / l, t / r, t / (l + r)
}'
