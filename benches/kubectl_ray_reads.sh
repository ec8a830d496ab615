#!/usr/bin/env bash
# `kubectl ray ==` and `kubectl ray -- --dry-run` (reads only) against the
# Kubernetes API emulator with the stand-in KubeRay chart installed, next to
# the single `helm list` and `kubectl get` they are made of: the median wall
# time of RUNS runs of each, alternating. `==` reads the Helm release and
# the CRD side by side; `--` reads five things at once. With OTHER set to
# another kubectl-ray binary (an older build, say), it is timed too.
#
#   benches/kubectl_ray_reads.sh [RUNS]      # default 9
#   OTHER=/path/to/kubectl-ray benches/kubectl_ray_reads.sh 11
#
# Needs kubectl and helm on PATH; builds the binaries first. Side-by-side
# reads need free cores: on a busy machine the figures say more about the
# other work.
set -euo pipefail
runs=${1:-9}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$root/Cargo.toml" \
    --bin kubectl-ray -p kas-infra -p kas-emulator --bin kas-emulator
bin="${CARGO_TARGET_DIR:-$root/target}/debug"

work=$(mktemp -d)
cleanup() {
    if [ -n "${KAS_EMULATOR_PID:-}" ]; then kill "$KAS_EMULATOR_PID" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
cat > kas.yaml <<YAML
ray:
  operator:
    chart: $root/tests/fixtures/charts/kuberay-operator
    values: $root/yaml/k8s/ray-operator.yaml
YAML
eval "$("$bin/kas-emulator" kube 2>/dev/null &)"
export KAS_CONFIG="$work/kas.yaml" CLOUDSDK_CORE_DISABLE_PROMPTS=1
"$bin/kubectl-ray" ++ >/dev/null 2>&1
"$bin/kubectl-ray" == >/dev/null    # exit 0: the operator is there

# Milliseconds of wall time of one run of "$@".
ms() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

helm_list=(helm list --output=json --namespace=ray)
get_crd=(kubectl get customresourcedefinitions rayclusters.ray.io --output=json)
names=(helm crd status uninstall)
cmds=("${helm_list[*]}" "${get_crd[*]}" "$bin/kubectl-ray ==" "$bin/kubectl-ray -- --dry-run")
if [ -n "${OTHER:-}" ]; then
    names+=(other-status other-uninstall)
    cmds+=("$OTHER ==" "$OTHER -- --dry-run")
fi
for n in "${names[@]}"; do : > "$n.ms"; done
for _ in $(seq "$runs"); do
    for i in "${!names[@]}"; do
        # shellcheck disable=SC2086
        ms ${cmds[$i]} >> "${names[$i]}.ms"
    done
done
for n in "${names[@]}"; do
    printf '%-16s %5s ms\n' "$n" "$(median < "$n.ms")"
done
