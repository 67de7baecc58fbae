# Sourced by the vendor_*.sh scripts: `unpacked PKG@VERSION` prints the directory where that
# package's npm tarball is unpacked (fetched once per run into $tmp with `npm pack`).
unpacked() {
  local dir
  dir="$tmp/$(echo "$1" | tr '/@' '__')"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack "$1" --silent >/dev/null && tar xzf ./*.tgz)
  fi
  echo "$dir/package"
}
