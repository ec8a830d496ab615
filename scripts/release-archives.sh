#!/usr/bin/env bash
# Release archives and the krew index.
#
#   scripts/release-archives.sh [--out DIR] [--manifests DIR] [--base-url URL]
#                               [--homepage URL] [--bin-dir DIR]
#   scripts/release-archives.sh --check [--out DIR] [--manifests DIR]
#
# Builds, for each platform whose Rust toolchain is here (this machine's
# always; the others when `rustup target add` installed them and a linker
# for them is configured), with `cargo build --release --target T`:
#
#   kubectl-ray-vVERSION-OS-ARCH.tar.gz   kubectl-ray, kubectl_complete-ray, kubectl-ray.1, LICENSE
#   kubectl-kas-vVERSION-OS-ARCH.tar.gz   kubectl-kas, kubectl_complete-kas, kubectl-kas.1, LICENSE
#   kas-infra-vVERSION-OS-ARCH.tar.gz     bin/ (the GCP tools and publish-wheel), share/man/man1,
#                                         bash, zsh and fish completions under share/, LICENSE
#
# into DIR (default target/release-archives), and writes version, uri
# (URL/vVERSION/ARCHIVE, URL from --base-url, else kept) and
# sha256 of each built platform into the krew manifests (default plugins/;
# another DIR gets a copy of plugins/*.yaml first, so the work tree stays
# as it is). A platform that could not be built keeps a sha256 that says
# UNBUILT, which --check refuses.
#
# --check changes nothing: it exits 1, naming each problem, unless both
# manifests have the Cargo version, a real homepage and at least one
# platform, and every platform listed has a real uri (not the .invalid
# placeholder) and the sha256 of its archive in DIR (an UNBUILT platform
# is refused: build it, or delete its entry to release without it).
#
# Man pages and completion scripts come from this machine's binaries
# (`NAME --man`, `NAME completion SHELL`): the clap definitions are the
# same on every platform. --bin-dir DIR takes this machine's binaries from
# DIR instead of building them (the tests pass their own build).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/target/release-archives"
manifests="$root/plugins"
base_url=""
homepage=""
bin_dir=""
check=false

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --manifests) manifests="$2"; shift 2 ;;
    --base-url) base_url="${2%/}"; shift 2 ;;
    --homepage) homepage="$2"; shift 2 ;;
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --check) check=true; shift ;;
    -h|--help) usage ;;
    *) echo "error: unknown argument $1" >&2; usage ;;
  esac
done

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
[[ -n "$version" ]] || { echo "error: no version in Cargo.toml" >&2; exit 3; }
plugins=(ray kas)
platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)
tools=(admin-service-account artifact-registry clean-images gke-allow gke-cluster gke-nat
  publish-wheel ray-service-account)

triple() {
  case "$1" in
    linux/amd64) echo x86_64-unknown-linux-gnu ;;
    linux/arm64) echo aarch64-unknown-linux-gnu ;;
    darwin/amd64) echo x86_64-apple-darwin ;;
    darwin/arm64) echo aarch64-apple-darwin ;;
  esac
}

sha256() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# The value of `key:` in the platform block for os/arch of a manifest.
platform_field() { # manifest os arch key
  awk -v os="$2" -v arch="$3" -v key="$4" '
    /^  - selector:/ { o = ""; a = "" }
    /^        os:/ { o = $2 }
    /^        arch:/ { a = $2 }
    o == os && a == arch && $1 == key ":" { sub(/^ *[a-z0-9]+: */, ""); gsub(/"/, ""); print; exit }
  ' "$1"
}

if $check; then
  problems=()
  for plugin in "${plugins[@]}"; do
    manifest="$manifests/$plugin.yaml"
    [[ -f "$manifest" ]] || { problems+=("$manifest: missing"); continue; }
    grep -q "^  version: v$version\$" "$manifest" || problems+=("$manifest: spec.version is not v$version")
    grep -q '^  homepage: .*\.invalid' "$manifest" && problems+=("$manifest: homepage is the placeholder (pass --homepage URL)")
    # The platforms the manifest lists (a platform may be dropped from it
    # on purpose; one that stays must be real).
    listed=0
    for platform in "${platforms[@]}"; do
      os="${platform%/*}" arch="${platform#*/}"
      uri="$(platform_field "$manifest" "$os" "$arch" uri)"
      sum="$(platform_field "$manifest" "$os" "$arch" sha256)"
      [[ -n "$uri" ]] || continue
      listed=$((listed + 1))
      [[ "$uri" == *.invalid/* ]] && problems+=("$manifest $platform: uri is the placeholder (pass --base-url URL)")
      if [[ ! "$sum" =~ ^[0-9a-f]{64}$ ]]; then
        problems+=("$manifest $platform: sha256 is a placeholder ($sum)")
        continue
      fi
      archive="$out/${uri##*/}"
      if [[ ! -f "$archive" ]]; then
        problems+=("$manifest $platform: $archive is missing")
      elif [[ "$(sha256 "$archive")" != "$sum" ]]; then
        problems+=("$manifest $platform: sha256 differs from $archive")
      fi
    done
    ((listed)) || problems+=("$manifest: no platform")
  done
  if ((${#problems[@]})); then
    echo "not ready for release:" >&2
    printf '  %s\n' "${problems[@]}" >&2
    exit 1
  fi
  echo "ready for release: every platform listed for ${plugins[*]} has v$version and its archive's sha256"
  exit 0
fi

mkdir -p "$out" "$manifests"
if [[ "$(cd "$manifests" && pwd)" != "$root/plugins" ]]; then
  for plugin in "${plugins[@]}"; do cp "$root/plugins/$plugin.yaml" "$manifests/$plugin.yaml"; done
fi
[[ -n "$base_url" ]] || base_url="$(platform_field "$manifests/ray.yaml" linux amd64 uri | sed 's|/v[^/]*/[^/]*$||')"

host="$(rustc -vV | sed -n 's/^host: //p')"
if [[ -z "$bin_dir" ]]; then
  (cd "$root" && cargo build --release --quiet --bins)
  bin_dir="$root/target/release"
fi

# GNU tar makes the same archive from the same files; others still work.
tar_flags=()
if tar --version 2>/dev/null | grep -q GNU; then
  tar_flags=(--sort=name --owner=0 --group=0 --numeric-owner "--mtime=@${SOURCE_DATE_EPOCH:-0}")
fi
pack() { # archive folder
  # shellcheck disable=SC2046 # the folder's names, which have no spaces
  tar ${tar_flags[@]+"${tar_flags[@]}"} -C "$2" -cf - $(cd "$2" && ls -A) | gzip -n >"$1"
}

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# Man pages and completion scripts, once, from this machine's binaries.
mkdir -p "$stage/docs"
for name in kubectl-ray kubectl-kas "${tools[@]}"; do
  "$bin_dir/$name" --man >"$stage/docs/$name.1"
done
for name in "${tools[@]}"; do
  "$bin_dir/$name" completion bash >"$stage/docs/$name.bash"
  "$bin_dir/$name" completion zsh >"$stage/docs/_$name"
  "$bin_dir/$name" completion fish >"$stage/docs/$name.fish"
done

# Writes uri and sha256 of one platform into a manifest, and the version.
record() { # manifest os arch uri sha256
  local manifest="$1" tmp
  tmp="$(mktemp "$manifest.XXXXXX")"
  awk -v os="$2" -v arch="$3" -v uri="$4" -v sum="$5" -v version="v$version" -v homepage="$homepage" '
    /^  version:/ { print "  version: " version; next }
    /^  homepage:/ && homepage != "" { print "  homepage: " homepage; next }
    /^  - selector:/ { o = ""; a = "" }
    /^        os:/ { o = $2 }
    /^        arch:/ { a = $2 }
    o == os && a == arch && /^    uri:/ { print "    uri: " uri; next }
    o == os && a == arch && /^    sha256:/ { print "    sha256: " sum; next }
    { print }
  ' "$manifest" >"$tmp"
  mv "$tmp" "$manifest"
}

for platform in "${platforms[@]}"; do
  os="${platform%/*}" arch="${platform#*/}" target="$(triple "$platform")"
  # This machine's strip handles this machine's binaries (a release
  # build is stripped by Cargo already; a --bin-dir build may not be).
  strip=()
  if [[ "$target" == "$host" ]]; then
    bins="$bin_dir"
    command -v strip >/dev/null && strip=(-s)
  elif rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    (cd "$root" && cargo build --release --quiet --bins --target "$target")
    bins="$root/target/$target/release"
  else
    echo "$platform: no $target toolchain here (rustup target add $target, and a linker for it): left UNBUILT" >&2
    for plugin in "${plugins[@]}"; do
      name="kubectl-$plugin-v$version-$os-$arch.tar.gz"
      record "$manifests/$plugin.yaml" "$os" "$arch" "$base_url/v$version/$name" \
        "\"UNBUILT: run scripts/release-archives.sh where the $os/$arch toolchain is installed\""
    done
    continue
  fi
  for plugin in "${plugins[@]}"; do
    dir="$stage/kubectl-$plugin-$os-$arch"
    mkdir -p "$dir"
    install ${strip[@]+"${strip[@]}"} -m 0755 "$bins/kubectl-$plugin" "$bins/kubectl_complete-$plugin" "$dir/"
    install -m 0644 "$stage/docs/kubectl-$plugin.1" "$root/LICENSE" "$dir/"
    name="kubectl-$plugin-v$version-$os-$arch.tar.gz"
    pack "$out/$name" "$dir"
    record "$manifests/$plugin.yaml" "$os" "$arch" "$base_url/v$version/$name" "$(sha256 "$out/$name")"
    echo "$out/$name"
  done
  dir="$stage/kas-infra-$os-$arch"
  mkdir -p "$dir/bin" "$dir/share/man/man1" "$dir/share/bash-completion/completions" \
    "$dir/share/zsh/site-functions" "$dir/share/fish/vendor_completions.d"
  for name in "${tools[@]}"; do
    install ${strip[@]+"${strip[@]}"} -m 0755 "$bins/$name" "$dir/bin/"
    install -m 0644 "$stage/docs/$name.1" "$dir/share/man/man1/"
    install -m 0644 "$stage/docs/$name.bash" "$dir/share/bash-completion/completions/$name"
    install -m 0644 "$stage/docs/_$name" "$dir/share/zsh/site-functions/"
    install -m 0644 "$stage/docs/$name.fish" "$dir/share/fish/vendor_completions.d/"
  done
  install -m 0644 "$root/LICENSE" "$dir/"
  pack "$out/kas-infra-v$version-$os-$arch.tar.gz" "$dir"
  echo "$out/kas-infra-v$version-$os-$arch.tar.gz"
done
echo "manifests: $manifests/ray.yaml $manifests/kas.yaml"
