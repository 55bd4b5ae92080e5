"""Media upload, download and thumbnail throughput against any Matrix homeserver (Synapse too: it speaks only
the spec's endpoints).

  python -m bench.media --url http://127.0.0.1:8008 --files 100 --size 1048576 --images 50 --concurrency 8

Phases, each over fresh content of its own:

  upload/sequential, upload/concurrent     POST /_matrix/media/v3/upload of ``--size`` random bytes
  download/concurrent                      GET /_matrix/client/v1/media/download of what was uploaded
  image-upload/concurrent                  a ``--image-width`` x ``--image-height`` PNG each
  thumbnail/concurrent                     the first 320x240 scale thumbnail of each image (made now, unless the
                                           server already made it after the upload)
  thumbnail-again/concurrent               the same request again (served from what was made)

Every loop is bounded (``--files`` and ``--images`` items per phase, nothing started after ``--deadline``).
Failures are counted, not retried; raise the server's ``max_upload_size`` if uploads fail with 413.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx
from PIL import Image

from bench.harness import (
    OperationFailed,
    PhaseResult,
    add_run_arguments,
    build_report,
    check_run_arguments,
    describe,
    run_items,
    run_main,
)
from bench.rooms import register

UPLOAD = "/_matrix/media/v3/upload"
DOWNLOAD = "/_matrix/client/v1/media/download"
THUMBNAIL = "/_matrix/client/v1/media/thumbnail"
MAX_SIZE = 100 * 1024 * 1024


def _png(width: int, height: int, seed: int) -> bytes:
    """A photo-like PNG (noise compresses poorly, as photos do), different per seed."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    image.putpixel((0, 0), (seed % 256, 0, 0))
    output = io.BytesIO()
    image.save(output, "PNG", compress_level=1)
    return output.getvalue()


async def upload(client: httpx.AsyncClient, token: str, data: bytes, content_type: str) -> str:
    response = await client.post(UPLOAD, content=data, headers={"Authorization": f"Bearer {token}",
                                                                 "Content-Type": content_type})
    if response.status_code != 200:
        raise OperationFailed(f"upload failed: {describe(response)}")
    return str(response.json()["content_uri"])[len("mxc://"):]


async def fetch(client: httpx.AsyncClient, token: str, url: str, expected_length: int | None = None) -> None:
    response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise OperationFailed(f"GET {url} failed: {describe(response)}")
    if expected_length is not None and len(response.content) != expected_length:
        raise OperationFailed(f"GET {url} returned {len(response.content)} bytes, not {expected_length}")


async def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.deadline
    limits = httpx.Limits(max_connections=args.concurrency + 2, max_keepalive_connections=args.concurrency + 2)
    async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout, limits=limits) as client:
        token = await register(client, f"bench_media_{secrets.token_hex(4)}")
        results: list[PhaseResult] = []
        uploaded: list[str] = []

        async def upload_one(_: int) -> None:
            uploaded.append(await upload(client, token, os.urandom(args.size), "application/octet-stream"))

        for concurrency in (1, args.concurrency):
            phase, _ = await run_items("upload", upload_one, range(args.files), concurrency, deadline)
            results.append(phase)
        phase, _ = await run_items("download", lambda name: fetch(client, token, f"{DOWNLOAD}/{name}", args.size),
                                   uploaded, args.concurrency, deadline)
        results.append(phase)

        images: list[str] = []
        pngs = [_png(args.image_width, args.image_height, seed) for seed in range(args.images)]

        async def upload_image(png: bytes) -> None:
            images.append(await upload(client, token, png, "image/png"))

        phase, _ = await run_items("image-upload", upload_image, pngs, args.concurrency, deadline)
        results.append(phase)
        for name in ("thumbnail", "thumbnail-again"):
            phase, _ = await run_items(name, lambda media: fetch(
                client, token, f"{THUMBNAIL}/{media}?width=320&height=240&method=scale"), images, args.concurrency,
                deadline)
            results.append(phase)
    return build_report(args.url, results, items=args.files, concurrency=args.concurrency,
                        deadline_seconds=args.deadline, deadline_hit=time.monotonic() >= deadline)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__.splitlines()[0])
    add_run_arguments(parser, concurrency=8, deadline=600.0)
    parser.add_argument("--files", type=int, default=50, help="files per upload phase")
    parser.add_argument("--size", type=int, default=1024 * 1024, help="bytes per file")
    parser.add_argument("--images", type=int, default=20, help="images uploaded and thumbnailed")
    parser.add_argument("--image-width", type=int, default=1600)
    parser.add_argument("--image-height", type=int, default=1200)
    args = parser.parse_args(argv)
    check_run_arguments(parser, args, ("files", "images"))
    if not 1 <= args.size <= MAX_SIZE or not 1 <= args.image_width <= 8000 or not 1 <= args.image_height <= 8000:
        parser.error(f"--size 1..{MAX_SIZE}, image sides 1..8000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse_args(argv), run_benchmark)


if __name__ == "__main__":
    sys.exit(main())
