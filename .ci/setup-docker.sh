# Sourced by .ci/run: a throwaway Docker engine and a local registry for
# tests/kas_docker.rs (`kubectl kas` in Docker mode).
#
# Installs Debian's docker.io, docker-registry, busybox-static and
# openssh-client when missing, starts `dockerd` with its own data root, exec root, pid file and
# unix socket under $KAS_CI_DIR/docker, starts the registry on a free
# 127.0.0.1 port, and exports
#   DOCKER_HOST        unix socket of that engine
#   KAS_TEST_REGISTRY  127.0.0.1:PORT of that registry
# Both are stopped (and their folders removed) by the `on_exit` cleanups.
#
# By hand, for development:
#   export KAS_CI_DIR=$(mktemp -d); on_exit() { echo "$1" >>"$KAS_CI_DIR/cleanup"; }
#   source .ci/setup-docker.sh      # later: bash "$KAS_CI_DIR/cleanup"

kas_docker_missing=()
command -v dockerd >/dev/null || kas_docker_missing+=(docker.io)
command -v docker-registry >/dev/null || kas_docker_missing+=(docker-registry)
# `kubectl kas run` checks the SSH folder with ssh-keygen.
command -v ssh-keygen >/dev/null || kas_docker_missing+=(openssh-client)
# The fixture images are FROM scratch: they need a statically linked busybox.
if ! dpkg -s busybox-static >/dev/null 2>&1; then kas_docker_missing+=(busybox-static); fi
if ((${#kas_docker_missing[@]})); then
  echo "installing ${kas_docker_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${kas_docker_missing[@]}" >/dev/null
fi

kas_docker_dir="$KAS_CI_DIR/docker"
mkdir -p "$kas_docker_dir/data" "$kas_docker_dir/exec" "$kas_docker_dir/registry"

# The engine. vfs needs no overlay support from the kernel; with
# --iptables=false the engine leaves the host's firewall alone, and ports
# published on 127.0.0.1 go through docker-proxy.
dockerd \
  --storage-driver=vfs \
  --iptables=false \
  --data-root "$kas_docker_dir/data" \
  --exec-root "$kas_docker_dir/exec" \
  --pidfile "$kas_docker_dir/docker.pid" \
  -H "unix://$kas_docker_dir/docker.sock" \
  >"$kas_docker_dir/dockerd.log" 2>&1 &
kas_dockerd_pid=$!
# Stopping: dockerd stops its containers and containerd first (bounded:
# after 20 s it is killed). A killed dockerd leaves its data root
# bind-mounted on itself, which rm cannot remove: unmount it first.
on_exit "kill $kas_dockerd_pid 2>/dev/null; for _ in \$(seq 100); do kill -0 $kas_dockerd_pid 2>/dev/null || break; sleep 0.2; done; kill -9 $kas_dockerd_pid 2>/dev/null; wait $kas_dockerd_pid 2>/dev/null; umount '$kas_docker_dir/data' 2>/dev/null; rm -rf '$kas_docker_dir/data' '$kas_docker_dir/exec'"
export DOCKER_HOST="unix://$kas_docker_dir/docker.sock"

kas_docker_ready=
for _ in $(seq 120); do
  if docker version >/dev/null 2>&1; then kas_docker_ready=1; break; fi
  kill -0 "$kas_dockerd_pid" 2>/dev/null || break
  sleep 0.5
done
if [[ -z $kas_docker_ready ]]; then
  echo "the Docker engine did not start; its log:" >&2
  tail -n 30 "$kas_docker_dir/dockerd.log" >&2
  return 1
fi

# The registry, on a port nobody listens on; another port if someone takes
# it first.
kas_registry_ready=
# Cleanups run last-registered first: this one after the registry stops.
on_exit "rm -rf '$kas_docker_dir/registry'"
for kas_registry_try in 1 2 3 4 5; do
  kas_registry_port=
  for _ in $(seq 50); do
    candidate=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
      kas_registry_port=$candidate
      break
    fi
  done
  cat >"$kas_docker_dir/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $kas_docker_dir/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$kas_registry_port
EOF
  docker-registry serve "$kas_docker_dir/registry.yml" >"$kas_docker_dir/registry.log" 2>&1 &
  kas_registry_pid=$!
  on_exit "kill $kas_registry_pid 2>/dev/null; wait $kas_registry_pid 2>/dev/null"
  for _ in $(seq 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$kas_registry_port") 2>/dev/null; then
      kas_registry_ready=1
      break
    fi
    kill -0 "$kas_registry_pid" 2>/dev/null || break
    sleep 0.25
  done
  [[ -n $kas_registry_ready ]] && break
  kill "$kas_registry_pid" 2>/dev/null || true
  echo "the registry did not start on port $kas_registry_port (try $kas_registry_try); its log:" >&2
  tail -n 10 "$kas_docker_dir/registry.log" >&2
done
if [[ -z $kas_registry_ready ]]; then
  echo "the registry did not start" >&2
  return 1
fi
export KAS_TEST_REGISTRY="127.0.0.1:$kas_registry_port"
echo "docker engine at $DOCKER_HOST, registry at $KAS_TEST_REGISTRY"
