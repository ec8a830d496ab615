#!/usr/bin/env bash
# The main job without a cloud account: builds the tools and `kas-emulator`,
# then runs `kas-emulator main-job`, which starts the emulated Google Cloud
# and Kubernetes, runs `admin-service-account +`, `artifact-registry +`,
# `gke-nat +`, `gke-cluster +` and `kubectl ray + yaml/k8s/gke-cpu-only.yaml`
# (each printed first), then a Ray job printing the cluster's resources.
# Then it prints the export lines to keep going and serves until Ctrl-C;
# `./main-job.sh --down` removes everything again and exits instead.
#
# Real Ray nodes back the Ray pods when KAS_EMULATOR_RAY names a `ray`
# executable (or `ray` is on PATH); `kas-emulator --help` says more.
#
# A debug build: the tests' build is reused (CI runs this after them), and
# the job's time goes to gcloud, helm and Ray, not to the tools' own code.
set -euo pipefail
cd "$(dirname "$0")"
# The tools first: `kas-emulator main-job` runs those built beside it.
cargo build --quiet --workspace --bins
exec cargo run --quiet -p kas-emulator --bin kas-emulator -- main-job "$@"
