"""Build the Docker sandbox image: the function behind `verifiers sandbox build`.

The sandbox image (`SANDBOX_IMAGE`) is built from `images/python/Dockerfile` on top of a
base image that has python3 (and g++). Which base, in order of preference:

1. the `base` argument, or the environment variable R1_VERIFIERS_SANDBOX_BASE;
2. `python:3.12-slim` (the Dockerfile's default) when it is already present locally;
3. the project's own `r1-verifiers/debian-python:bookworm`, built here without any registry
   by `images/python/build_base.sh` (Debian's debootstrap + `docker import`, about a minute).

Nothing is pulled from a registry by this module: where one is reachable, run
`docker pull python:3.12-slim` first, or build by hand with `docker build`.
Uses the `docker` command line client (the build needs it anyway for `docker import`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

SANDBOX_IMAGE = "r1-verifiers/sandbox-python:latest"
LOCAL_BASE_IMAGE = "r1-verifiers/debian-python:bookworm"
REGISTRY_BASE_IMAGE = "python:3.12-slim"
IMAGE_DIR = Path(__file__).resolve().parent / "images" / "python"


def image_exists(tag: str) -> bool:
    """True when the local Docker daemon has an image called `tag`."""
    out = subprocess.run(["docker", "image", "inspect", tag], capture_output=True)
    return out.returncode == 0


def build_images(force: bool = False, base: str | None = None) -> Iterator[str]:
    """Build the base image if needed, then the sandbox image; yield progress lines.

    A no-op (one line) when `SANDBOX_IMAGE` exists and `force` is False; `force` rebuilds
    both the local base (when it is the one used) and the sandbox image.
    Raises RuntimeError naming what is missing: the docker client, a reachable daemon,
    root or debootstrap for the local base, or a failed build step.
    """
    if shutil.which("docker") is None:
        raise RuntimeError(
            "the `docker` command line client is not installed (Debian: apt-get install docker.io)"
        )
    info = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if info.returncode != 0:
        raise RuntimeError(f"no Docker daemon is reachable: {info.stderr.strip()[-300:]}")
    if not force and image_exists(SANDBOX_IMAGE):
        yield f"{SANDBOX_IMAGE} already exists (--force rebuilds it)"
        return

    base = base or os.environ.get("R1_VERIFIERS_SANDBOX_BASE")
    if base is None:
        base = REGISTRY_BASE_IMAGE if image_exists(REGISTRY_BASE_IMAGE) else LOCAL_BASE_IMAGE
    if base == LOCAL_BASE_IMAGE and (force or not image_exists(LOCAL_BASE_IMAGE)):
        yield from _build_local_base()
    elif not image_exists(base):
        raise RuntimeError(f"base image {base!r} is not present locally; pull it first or leave base unset")

    yield f"building {SANDBOX_IMAGE} from {base}"
    yield from _stream(
        ["docker", "build", "--build-arg", f"BASE={base}", "-t", SANDBOX_IMAGE, str(IMAGE_DIR)]
    )
    yield f"built {SANDBOX_IMAGE}"


def _build_local_base() -> Iterator[str]:
    if shutil.which("debootstrap") is None:
        raise RuntimeError(
            f"building {LOCAL_BASE_IMAGE} needs debootstrap (Debian: apt-get install debootstrap), "
            f"or a local {REGISTRY_BASE_IMAGE} image"
        )
    if os.geteuid() != 0:
        raise RuntimeError(f"building {LOCAL_BASE_IMAGE} with debootstrap needs root")
    yield f"building {LOCAL_BASE_IMAGE} with debootstrap (about a minute)"
    yield from _stream(["sh", str(IMAGE_DIR / "build_base.sh"), LOCAL_BASE_IMAGE])


def _stream(cmd: list[str]) -> Iterator[str]:
    """Run `cmd`, yielding its output lines; raise RuntimeError with the tail if it fails."""
    tail: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-20:]
            yield line
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed (exit {proc.returncode}):\n" + "\n".join(tail))


def main() -> int:
    try:
        for line in build_images(force="--force" in sys.argv[1:]):
            print(line, flush=True)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
