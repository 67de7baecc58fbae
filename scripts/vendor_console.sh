#!/usr/bin/env bash
# Re-vendors the console's libraries into api/static/console/vendor/ from the npm registry (needs
# npm). ES modules as the packages ship them (no build step); the versions are pinned here and
# each file's sha256 is checked against VENDORED (also listed in the directory's README).
# Change a version → run this → update VENDORED and the README with the printed hashes → test.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=api/static/console/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. scripts/npm_unpack.sh

# package@version  file in the package  name under $dest
ASSETS="
preact@11.2.0 dist/preact.mjs preact.mjs
preact@11.2.0 hooks/dist/hooks.mjs preact-hooks.mjs
htm@3.1.1 dist/htm.mjs htm.mjs
uplot@1.6.32 dist/uPlot.esm.js uPlot.esm.js
uplot@1.6.32 dist/uPlot.min.css uPlot.min.css
graphql-ws@6.4.2 dist/client.js graphql-ws/client.js
graphql-ws@6.4.2 dist/common-CGW11Fyb.js graphql-ws/common-CGW11Fyb.js
"
VENDORED="
preact.mjs bdcbd9abdf2c77c5c45326eab42191e949222d479d0d5f69467387a77040cb55
preact-hooks.mjs e862ab2973aa6455eaa0f77c5d832d2157d6be59a17c8ba546550a575b58c6b4
htm.mjs ab33dd3f38059b9be4d5f5350128eefb2356639c4e0bbe9d9e8b3ba75847e9e4
uPlot.esm.js 5dd9b3281aa64b461b42d9945f6adb2649d346502b12281a9ae0d46599a80eba
uPlot.min.css df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04
graphql-ws/client.js 99eef5372cbdd14e05eb6173840f6e359de0bb59dc1d29d7f9c72de2b35c8702
graphql-ws/common-CGW11Fyb.js 00dc68b0645f642f7bd56c1a4c0ee87a346209be844ed67cbbb4834a1213f010
"

mkdir -p "$dest/licenses" "$dest/graphql-ws"
echo "$ASSETS" | while read -r pkg file name; do
  [ -n "$pkg" ] || continue
  dir=$(unpacked "$pkg")
  cp "$dir/$file" "$dest/$name"
  hash=$(sha256sum "$dest/$name" | cut -d' ' -f1)
  want=$(echo "$VENDORED" | awk -v n="$name" '$1 == n {print $2}')
  [ "$hash" = "$want" ] || echo "vendor_console: $name is $hash (VENDORED says ${want:-nothing})" >&2
  base=${pkg%@*}
  if [ -f "$dir/LICENSE" ]; then
    cp "$dir/LICENSE" "$dest/licenses/${base#@}.LICENSE"
  elif [ -f "$dir/LICENSE.md" ]; then
    cp "$dir/LICENSE.md" "$dest/licenses/${base#@}.LICENSE"
  fi
done
