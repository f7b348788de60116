#!/usr/bin/env bash
# The declared MSRVs (tch-dda's and tch-dda-data's rust-version) are at least every locked normal
# dependency's rust-version (clippy's incompatible_msrv lint checks the crates' own use of std).
set -euo pipefail
cd "$(dirname "$0")/.."
# The host's dependency graph: other platforms' packages (plotters' wasm ones) are never
# downloaded, and --offline cannot resolve them.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo metadata --offline --format-version 1 --filter-platform "$host" | python3 -c '
import json, sys
m = json.load(sys.stdin)
ids = {p["id"]: p for p in m["packages"]}
nodes = {n["id"]: n for n in m["resolve"]["nodes"]}
def version(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))
# The library and the data crate, each against its own rust-version.
for name in ("tch-dda", "tch-dda-data"):
    root = next(p for p in m["packages"] if p["name"] == name)
    declared = root["rust_version"]
    ours = version(declared)
    seen, stack = set(), [root["id"]]
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        stack += [d["pkg"] for d in nodes[i]["deps"] if any(k["kind"] is None for k in d["dep_kinds"])]
    bad = [(ids[i]["name"], ids[i]["rust_version"]) for i in seen if ids[i].get("rust_version")
           and version(ids[i]["rust_version"]) > ours]
    if bad:
        sys.exit(f"{name}: rust-version {declared} is older than what these dependencies need: {bad}")
    print(f"msrv ok: {name} rust-version {declared} covers {len(seen) - 1} locked dependencies")
'
