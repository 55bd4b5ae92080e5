"""moto's S3 server (PyPI ``moto[server]``: a real HTTP S3 endpoint) on 127.0.0.1 with one bucket, for the media
storage provider's tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from config.media import S3_PROVIDER_MODULE

BUCKET = "ganglion-media"
CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing", "region_name": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[str]:
    """The endpoint URL of a fresh S3 server holding an empty :data:`BUCKET`."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                        region_name="us-east-1")


def bucket_keys(endpoint: str) -> list[str]:
    return [item["Key"] for item in s3_client(endpoint).list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def provider_config(endpoint: str, prefix: str = "media") -> list[dict[str, Any]]:
    """``media_storage_providers`` as synapse-s3-storage-provider's docs write it."""
    return [{"module": S3_PROVIDER_MODULE, "store_local": True, "store_synchronous": True,
             "config": {"bucket": BUCKET, "endpoint_url": endpoint, "prefix": prefix, **CREDENTIALS}}]
