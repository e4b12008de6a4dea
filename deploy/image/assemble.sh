#!/bin/sh
# Lays out the files of the ipamd image under ROOTFS, from a built checkout (pnpm install &&
# pnpm build at the repository root). The Containerfile runs it and copies ROOTFS over the base
# image; tests/deploy/test/image.test.ts runs it too and starts every entrypoint from the result.
#
#   ROOTFS/opt/ipamd/                      the daemon with its production dependencies (pnpm deploy)
#   ROOTFS/opt/ipamd-cni/install-cni.cjs   the installer the agent's init container runs
#   ROOTFS/opt/ipamd-cni/ipamd-cni-<platform>-<arch>   the plugin, a single executable
#   ROOTFS/usr/local/bin/ipamd             -> ../../../opt/ipamd/dist/main.js
#   ROOTFS/usr/local/bin/ipamd-cni-install -> ../../../opt/ipamd-cni/install-cni.cjs
#   ROOTFS/usr/local/bin/ipamd-server-start   the server StatefulSet's entrypoint
#
# Usage: assemble.sh ROOTFS   (ROOTFS must not hold an earlier layout)
set -eu
[ $# -eq 1 ] || { echo "usage: assemble.sh ROOTFS" >&2; exit 2; }
out=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
cni="$repo/apps/cni/dist"
plugin="ipamd-cni-$(node -p 'process.platform + "-" + process.arch')"
for file in "$repo/apps/ipamd/dist/main.js" "$cni/install-cni.cjs" "$cni/$plugin"; do
  [ -f "$file" ] || { echo "assemble.sh: $file missing: run pnpm build first" >&2; exit 1; }
done
[ ! -e "$out/opt/ipamd" ] || { echo "assemble.sh: $out/opt/ipamd exists" >&2; exit 1; }
mkdir -p "$out/opt/ipamd-cni" "$out/usr/local/bin"

# The daemon and only its production dependencies (better-sqlite3's addon included).
(cd "$repo" && pnpm --filter @ipam/ipamd deploy --prod --legacy --prefer-offline "$out/opt/ipamd" >/dev/null)

install -m 0755 "$cni/install-cni.cjs" "$out/opt/ipamd-cni/install-cni.cjs"
install -m 0755 "$cni/$plugin" "$out/opt/ipamd-cni/$plugin"
install -m 0755 "$repo/deploy/image/ipamd-server-start" "$out/usr/local/bin/ipamd-server-start"
ln -s ../../../opt/ipamd/dist/main.js "$out/usr/local/bin/ipamd"
ln -s ../../../opt/ipamd-cni/install-cni.cjs "$out/usr/local/bin/ipamd-cni-install"
# Readable by the image's non-root user (65532), whatever the build's umask was.
chmod -R a+rX "$out/opt" "$out/usr"
echo "assemble.sh: $out (ipamd $(node "$out/opt/ipamd/dist/main.js" --version | cut -d' ' -f2), $plugin)"
