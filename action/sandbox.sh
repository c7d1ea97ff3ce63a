#!/usr/bin/env bash
# The action's "Sandbox for the import proof" step: make bubblewrap work on this runner,
# the narrow way, before `lambdalayer build` runs the layer's code (docs/ci.md).
#
# GitHub's ubuntu-24.04 runners restrict unprivileged user namespaces through AppArmor
# (kernel.apparmor_restrict_unprivileged_userns = 1), so a plain `bwrap` fails with
# "setting up uid map: Permission denied" (actions/runner-images#10443). The remedy
# Canonical recommends is a profile granting `userns` to the one program that needs it,
# /etc/apparmor.d/bwrap; the restriction stays on for everything else on the host (the
# sysctl is never switched off).
#
# This step never fails the job itself: when bubblewrap cannot be made to work it warns,
# and `lambdalayer build` decides (proof-sandbox: required stops with exit 8; auto runs
# the proof with only a scrubbed environment and says so).
#
# Environment: PROOF_SANDBOX (the proof-sandbox input, for the messages). For the tests
# (tests/integration/aws/test_action_runner.py) only: LAMBDALAYER_ACTION_USERNS_SYSCTL
# (the sysctl file) and LAMBDALAYER_ACTION_APPARMOR_DIR (where the profile goes).
set -uo pipefail

sysctl_file="${LAMBDALAYER_ACTION_USERNS_SYSCTL:-/proc/sys/kernel/apparmor_restrict_unprivileged_userns}"
apparmor_dir="${LAMBDALAYER_ACTION_APPARMOR_DIR:-/etc/apparmor.d}"
marker="# Written by the lambdalayer GitHub Action: bubblewrap may make user namespaces."
as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo -n)  # -n: a runner without passwordless sudo fails, not hangs

warn() {
  local consequence="the build stops (exit 8) rather than run it unsandboxed"
  [ "${PROOF_SANDBOX:-required}" = auto ] && consequence="the proof runs unsandboxed, with a warning"
  echo "::warning title=lambdalayer proof sandbox::$1 The import proof needs bubblewrap to sandbox the layer's code; with proof-sandbox: ${PROOF_SANDBOX:-required} $consequence (docs/ci.md)."
}

if [ "$(uname -s)" != Linux ]; then
  echo "No sandbox setup on $(uname -s): the proof's sandbox needs Linux namespaces."
  exit 0
fi

if ! command -v bwrap >/dev/null; then
  echo "Installing bubblewrap for the import proof's sandbox"
  if ! { "${as_root[@]}" apt-get -qq update && \
         "${as_root[@]}" apt-get -qq install -y --no-install-recommends bubblewrap; }; then
    warn "bubblewrap could not be installed (apt-get failed)."
    exit 0
  fi
fi
bwrap_path="$(readlink -f "$(command -v bwrap)")"

restricted="$(cat "$sysctl_file" 2>/dev/null || true)"
if [ "$restricted" = 1 ]; then
  profile="$apparmor_dir/bwrap"
  if [ -e "$profile" ] && ! grep -qF "$marker" "$profile"; then
    # Someone else's profile (a self-hosted runner): theirs to keep.
    echo "Keeping the existing AppArmor profile $profile (not written by this action)."
  else
    echo "Unprivileged user namespaces are restricted by AppArmor here: granting them to" \
         "$bwrap_path only ($profile)"
    printf '%s\n' "$marker" 'abi <abi/4.0>,' 'include <tunables/global>' \
      "profile bwrap $bwrap_path flags=(unconfined) {" '  userns,' \
      '  include if exists <local/bwrap>' '}' \
      | "${as_root[@]}" tee "$profile" >/dev/null \
      && "${as_root[@]}" apparmor_parser -r "$profile" \
      || warn "The AppArmor profile $profile could not be written or loaded."
  fi
fi

# The namespaces the proof asks for (lambdalayer/proof/sandbox.py), around `true`.
if failure="$(bwrap --unshare-user --unshare-pid --unshare-net --unshare-ipc --unshare-uts \
                --die-with-parent --ro-bind / / true 2>&1)"; then
  echo "The import proof can run under bubblewrap ($bwrap_path)."
else
  warn "bubblewrap cannot make its namespaces here: ${failure##*$'\n'}."
fi
exit 0
