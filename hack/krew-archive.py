#!/usr/bin/env python3
"""Builds the archive krew installs (plugins/krew/ as a .tar.gz) and keeps the krew manifest,
plugins/spofless.yaml, in step with it: its version (pyproject's) and the archive's sha256.

The archive is the same byte for byte on every machine (fixed times, owners and modes), so the
manifest's sha256 stays valid until plugins/krew/ or the version changes.

Usage: hack/krew-archive.py [--out DIR]   writes DIR/kubectl-spofless-vVERSION.tar.gz (default build/krew)
                                          and the manifest's version, uri and sha256
       hack/krew-archive.py --check       exits 1 when the manifest does not match the archive
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "plugins" / "krew"
MANIFEST = ROOT / "plugins" / "spofless.yaml"


def version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def archive() -> bytes:
    """plugins/krew/ as a gzipped tar, its bytes fixed by its content alone."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(SOURCE.iterdir()):
            info = tarfile.TarInfo(path.name)
            data = path.read_bytes()
            info.size, info.mtime, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0, 0, "", ""
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def expected(manifest: str, digest: str, v: str) -> str:
    """The manifest with the version, the archive's name in its uri, and the sha256 set."""
    manifest = re.sub(r"(?m)^(  version: ).*$", rf"\g<1>v{v}", manifest)
    manifest = re.sub(r"(?m)^(    uri: .*/)v[^/]+/kubectl-spofless-v[^/]+\.tar\.gz$",
                      rf"\g<1>v{v}/kubectl-spofless-v{v}.tar.gz", manifest)  # fmt: skip
    return re.sub(r"(?m)^(    sha256: ).*$", rf"\g<1>{digest}", manifest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "krew")
    parser.add_argument("--check", action="store_true", help="check the manifest, write nothing")
    args = parser.parse_args()
    data, v = archive(), version()
    current = MANIFEST.read_text()
    wanted = expected(current, hashlib.sha256(data).hexdigest(), v)
    if args.check:
        if wanted != current:
            print(f"{MANIFEST.relative_to(ROOT)} does not match plugins/krew/ at version {v}: "
                  "run hack/krew-archive.py", file=sys.stderr)  # fmt: skip
            return 1
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"kubectl-spofless-v{v}.tar.gz"
    target.write_bytes(data)
    MANIFEST.write_text(wanted)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
