#!/usr/bin/env bash
# `kubectl ray ==`, `kubectl ray -- --dry-run` and `kubectl ray + FILE
# --dry-run` (reads only) against the Kubernetes API emulator with the
# stand-in KubeRay chart installed, next to the single `helm list`,
# `kubectl get` and `gcloud auth print-access-token` they are made of: the
# median wall time of RUNS runs of each, alternating. `==` reads the Helm
# release and the CRD side by side; `--` reads five things at once; `+`
# reads those two beside gcloud's token (then the pull secret). With OTHER
# set to another kubectl-ray binary (an older build, say), it is timed too.
#
#   benches/kubectl_ray_reads.sh [RUNS]      # default 9
#   OTHER=/path/to/kubectl-ray benches/kubectl_ray_reads.sh 11
#
# Needs kubectl, helm and gcloud on PATH; builds the binaries first. Side-by-side
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
export KAS_CONFIG="$work/kas.yaml" CLOUDSDK_CORE_DISABLE_PROMPTS=1 \
    CLOUDSDK_CONFIG="$work/gcloud" CLOUDSDK_AUTH_ACCESS_TOKEN=ya29.bench-token
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
file="$root/yaml/k8s/local-cpu-only.yaml"
names=(helm crd gcloud-token status uninstall up)
cmds=("${helm_list[*]}" "${get_crd[*]}" "gcloud auth print-access-token"
    "$bin/kubectl-ray ==" "$bin/kubectl-ray -- --dry-run" "$bin/kubectl-ray + $file --dry-run")
if [ -n "${OTHER:-}" ]; then
    names+=(other-status other-uninstall other-up)
    cmds+=("$OTHER ==" "$OTHER -- --dry-run" "$OTHER + $file --dry-run")
fi
for i in "${!names[@]}"; do
    # shellcheck disable=SC2086
    ${cmds[$i]} >/dev/null 2>"${names[$i]}.err" || {
        echo "${names[$i]}: \`${cmds[$i]}\` failed:" >&2
        cat "${names[$i]}.err" >&2
        exit 1
    }
    : > "${names[$i]}.ms"
done
for _ in $(seq "$runs"); do
    for i in "${!names[@]}"; do
        # shellcheck disable=SC2086
        ms ${cmds[$i]} >> "${names[$i]}.ms"
    done
done
for n in "${names[@]}"; do
    printf '%-16s %5s ms\n' "$n" "$(median < "$n.ms")"
done
