#!/usr/bin/env bash
# Re-vendors GraphiQL's assets into api/static/graphiql/ from the npm registry (needs npm).
# The versions are pinned here; each file's sha384 is checked against VENDORED below, which
# matches the Subresource Integrity hashes strawberry's own page uses for the same versions.
# Change a version → run this → update VENDORED with the printed hashes → test the page.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=api/static/graphiql
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. scripts/npm_unpack.sh

# package@version  file in the package  name under $dest
ASSETS="
react@18.2.0 umd/react.production.min.js react.production.min.js
react-dom@18.2.0 umd/react-dom.production.min.js react-dom.production.min.js
graphiql@3.8.3 graphiql.min.js graphiql.min.js
graphiql@3.8.3 graphiql.min.css graphiql.min.css
@graphiql/plugin-explorer@1.0.2 dist/index.umd.js plugin-explorer.umd.js
@graphiql/plugin-explorer@1.0.2 dist/style.css plugin-explorer.css
"
VENDORED="
react.production.min.js sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8
react-dom.production.min.js sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh
graphiql.min.js sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie
graphiql.min.css sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM
plugin-explorer.umd.js sha384-2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9
plugin-explorer.css sha384-5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi
"

mkdir -p "$dest/licenses"
echo "$ASSETS" | while read -r pkg file name; do
  [ -n "$pkg" ] || continue
  dir=$(unpacked "$pkg")
  cp "$dir/$file" "$dest/$name"
  hash="sha384-$(openssl dgst -sha384 -binary "$dest/$name" | base64)"
  want=$(echo "$VENDORED" | awk -v n="$name" '$1 == n {print $2}')
  [ "$hash" = "$want" ] || echo "vendor_graphiql: $name is $hash (VENDORED says ${want:-nothing})" >&2
  base=${pkg%@*}
  license="$dest/licenses/$(echo "${base#@}" | tr '/' '-').LICENSE"
  if [ -f "$dir/LICENSE" ]; then
    cp "$dir/LICENSE" "$license"
  elif [ ! -f "$license" ]; then
    echo "vendor_graphiql: $pkg ships no LICENSE file: add its license to $license by hand" >&2
  fi
done
