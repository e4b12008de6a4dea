#!/bin/sh
# Install the ipamd-cni plugin into a CNI bin directory as a small wrapper that execs node on
# this package's dist/main.cjs. Usage: install-plugin.sh [--dir /opt/cni/bin] [--node /usr/bin/node]
set -eu
dir=/opt/cni/bin
node_bin=$(command -v node || true)
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --node) node_bin=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -n "$node_bin" ] || { echo "node not found; pass --node PATH" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
main="$here/dist/main.cjs"
[ -f "$main" ] || { echo "$main missing; run pnpm --filter @ipam/cni build" >&2; exit 1; }
mkdir -p "$dir"
tmp="$dir/.ipamd-cni.$$"
printf '#!/bin/sh\nexec %s %s "$@"\n' "$node_bin" "$main" > "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$dir/ipamd-cni"
echo "installed $dir/ipamd-cni -> $main"
