# Sourced by .ci/run: what tests/packaging.rs needs to check the man pages
# and the shell completion scripts: groff and man-db (`man -l`), and the
# shells whose scripts are tried (bash is there already; zsh, fish), plus
# the tar, gzip and strip that scripts/release-archives.sh uses.
# shellcheck shell=bash

kas_docs_missing=()
command -v groff >/dev/null || kas_docs_missing+=(groff-base)
command -v man >/dev/null || kas_docs_missing+=(man-db)
command -v zsh >/dev/null || kas_docs_missing+=(zsh)
command -v fish >/dev/null || kas_docs_missing+=(fish)
command -v strip >/dev/null || kas_docs_missing+=(binutils)
command -v gzip >/dev/null || kas_docs_missing+=(gzip)
if ((${#kas_docs_missing[@]})); then
  echo "installing ${kas_docs_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${kas_docs_missing[@]}" >/dev/null
fi
echo "groff: $(groff --version | head -n 1); zsh: $(zsh --version); fish: $(fish --version)"
unset kas_docs_missing
