#!/usr/bin/env bash
# The action's import-proof interpreters (proof: required), in two calls:
#
#   interpreters.sh plan       which targets this runner cannot prove yet: writes
#                              `needed`, `key` (for actions/cache) and `dir` to GITHUB_OUTPUT
#   interpreters.sh provision  qemu-user (+ mmdebstrap or the cross glibc) with apt-get, then
#                              `lambdalayer interpreters add` for each planned target into
#                              `dir` (a cache hit leaves only "already there" to say)
#
# A target is planned when `runtimes` and `architectures` name it and `lambdalayer
# interpreters` finds no CPython for it. Debian has CPython 3.11 (bookworm), 3.13 (trixie)
# and 3.14 (unstable): those come from Debian (mmdebstrap); other versions from uv's
# CPython builds. Without `runtimes`/`architectures` nothing is planned: the build then
# proves what it can and, with proof: required, stops with exit 7 naming the fix.
#
# Never fails the job itself: what cannot be provisioned is a warning, and `lambdalayer
# build --proof required` decides (exit 7, naming why and the fix: an arm64 runner, or
# the fan-out in docs/ci.md).
#
# Environment: INPUT_RUNTIMES, INPUT_ARCHITECTURES (the action's inputs), PLANNED (the
# plan step's `targets`), CACHE_DIR (where the interpreters go), RUNNER_OS, RUNNER_ARCH.
set -uo pipefail

dir="${CACHE_DIR:-$HOME/.cache/lambdalayer-action-interpreters}"
as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo -n)

warn() {
  echo "::warning title=lambdalayer import proof::$1 With proof: required the build stops (exit 7) for a target it cannot prove; build arm64 layers on an arm64 runner (runs-on: ubuntu-24.04-arm), the fan-out in docs/ci.md, or set proof: best-effort to publish them not proven."
}

plan() {
  local args=() planned=()
  for r in ${INPUT_RUNTIMES//,/ }; do args+=(--runtime "$r"); done
  for a in ${INPUT_ARCHITECTURES//,/ }; do args+=(--arch "$a"); done
  if [ -z "${INPUT_RUNTIMES// /}" ] || [ -z "${INPUT_ARCHITECTURES// /}" ]; then
    echo "No runtimes/architectures inputs: nothing provisioned ahead of the build."
    echo "needed=false" >> "$GITHUB_OUTPUT"
    return 0
  fi
  # Each target no CPython is found for: "runtime arch source" (source: a suite or uv).
  mapfile -t planned < <(lambdalayer interpreters "${args[@]}" --json | python3 -c '
import json, sys
suites = {"3.11": "bookworm", "3.13": "trixie", "3.14": "unstable"}
for row in json.load(sys.stdin)["interpreters"]:
    if not row["found"]:
        version = row["runtime"].removeprefix("python")
        print(row["runtime"], row["arch"], suites.get(version, "uv"))
')
  if [ "${#planned[@]}" = 0 ]; then
    echo "Every target has a CPython for its import proof on this runner."
    echo "needed=false" >> "$GITHUB_OUTPUT"
    return 0
  fi
  local key="lambdalayer-interpreters-v1-${RUNNER_OS:-Linux}-${RUNNER_ARCH:-$(uname -m)}"
  for line in "${planned[@]}"; do
    echo "To provision for the import proof: $line"
    key+="-${line// /-}"
  done
  { echo "needed=true"; echo "key=$key"; echo "dir=$dir"
    echo "targets<<EOF"; printf '%s\n' "${planned[@]}"; echo "EOF"; } >> "$GITHUB_OUTPUT"
}

packages() {
  local need=() line
  command -v qemu-aarch64 >/dev/null || command -v qemu-x86_64 >/dev/null \
    || need+=(qemu-user)
  while IFS= read -r line; do
    case "$line" in
      *" uv") [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] \
                || need+=(libc6-arm64-cross) ;;
      ?*) command -v mmdebstrap >/dev/null || need+=(mmdebstrap) ;;
    esac
  done <<<"$PLANNED"
  [ "${#need[@]}" = 0 ] && return 0
  echo "Installing ${need[*]} for the import proof"
  "${as_root[@]}" apt-get -qq update && \
    "${as_root[@]}" apt-get -qq install -y --no-install-recommends "${need[@]}"
}

provision() {
  if ! packages; then
    warn "apt-get could not install what the import proof under qemu needs."
    return 0
  fi
  mkdir -p "$dir/roots" "$dir/uv"
  echo "LAMBDALAYER_INTERPRETERS=${LAMBDALAYER_INTERPRETERS:+$LAMBDALAYER_INTERPRETERS:}$dir/roots" \
    >> "$GITHUB_ENV"
  local runtime arch source
  while read -r runtime arch source; do
    [ -n "$runtime" ] || continue
    if [ "$source" = uv ]; then
      # uv's CPython builds live in uv's python dir: the cached one, for later steps too.
      echo "UV_PYTHON_INSTALL_DIR=$dir/uv" >> "$GITHUB_ENV"
      UV_PYTHON_INSTALL_DIR="$dir/uv" lambdalayer interpreters add --runtime "$runtime" \
        --arch "$arch" || warn "No $arch CPython for $runtime could be provisioned (uv)."
    else
      lambdalayer interpreters add --runtime "$runtime" --arch "$arch" \
        --from-debian "$source" --into "$dir/roots" \
        || warn "No $arch CPython for $runtime could be provisioned (Debian $source)."
    fi
  done <<<"$PLANNED"
}

case "${1:-}" in
  plan) plan ;;
  provision) provision ;;
  *) echo "usage: interpreters.sh plan|provision" >&2; exit 2 ;;
esac
exit 0
