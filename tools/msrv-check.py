#!/usr/bin/env python3
"""The MSRV check this machine can run: no toolchain but the installed one can be fetched here,
so instead of building with Rust <rust-version>, check that every crate a published package
builds (normal and build dependencies, as `cargo tree` resolves them for that package alone)
declares a `rust-version` no newer than ours. Our own code's use of newer std APIs is caught by
clippy's `incompatible_msrv` lint, which reads the same `rust-version`.

Usage: tools/msrv-check.py PACKAGE...   (exit 1 naming every crate that needs a newer Rust)
"""
import json
import re
import subprocess
import sys


def version(text):
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def main(packages):
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True).stdout)
    ours = {p["name"]: p for p in meta["packages"] if p["id"] in meta["workspace_members"]}
    declared = {(p["name"], p["version"]): p.get("rust_version") for p in meta["packages"]}
    failures = []
    for package in packages:
        msrv = ours[package].get("rust_version")
        if not msrv:
            failures.append(f"{package} declares no rust-version")
            continue
        tree = subprocess.run(
            ["cargo", "tree", "--locked", "-p", package, "-e", "normal,build", "--prefix", "none",
             "--format", "{p}"],
            check=True, capture_output=True, text=True).stdout
        crates = set()
        for line in tree.splitlines():
            m = re.match(r"(\S+) v(\S+)", line)
            if m:
                crates.add((m.group(1), m.group(2)))
        newer = sorted(f"{n} {v} needs Rust {declared[(n, v)]}"
                       for n, v in crates
                       if declared.get((n, v)) and version(declared[(n, v)]) > version(msrv))
        failures += [f"{package} (rust-version {msrv}): {line}" for line in newer]
        print(f"msrv: {package}: {len(crates)} crates, none needs more than Rust {msrv}"
              if not newer else f"msrv: {package}: {len(newer)} crates need more than {msrv}")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
