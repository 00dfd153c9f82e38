#!/usr/bin/env bash
# Builds and runs the FillBlank example against SwiftGLM as a *versioned git dependency*: clones this
# repository (its committed HEAD) into a temporary folder, tags that clone with the library's version
# (SwiftGLMLibrary.version in Sources/SwiftGLM/SwiftGLM.swift) and lets SwiftPM resolve it through a file://
# URL with `from: <version>`. Usage: Examples/FillBlank/run.sh ["prompt with [MASK]"]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=$(sed -n 's/.*public static let version = "\([0-9.]*\)".*/\1/p' "$root/Sources/SwiftGLM/SwiftGLM.swift")
[ -n "$version" ] || { echo "run.sh: no SwiftGLM.version found in Sources/SwiftGLM/SwiftGLM.swift" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$here/Package.resolved"' EXIT
rm -f "$here/Package.resolved"   # pins the previous run's temporary URL
git clone -q --no-hardlinks "$root" "$tmp/SwiftGLM"
git -C "$tmp/SwiftGLM" tag "$version"
echo "FillBlank: SwiftGLM $version from file://$tmp/SwiftGLM (tagged clone of $(git -C "$root" rev-parse --short HEAD))"
cd "$here"
SWIFTGLM_PACKAGE_URL="file://$tmp/SwiftGLM" swift build --scratch-path "$tmp/build" 2>&1 | tail -n 3
SWIFTGLM_PACKAGE_URL="file://$tmp/SwiftGLM" swift run --skip-build --scratch-path "$tmp/build" FillBlank "$@"
