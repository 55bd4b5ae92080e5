"""An S3-compatible bucket as a media storage provider (synapse-s3-storage-provider's role): a second home for
the bytes the local store holds, so processes on other machines (or a rebuilt disk) find them.

boto3 is imported only when a provider is configured: deployments without one do not need it
(``pip install ganglion[s3]``).
"""

from __future__ import annotations

from typing import Any

from config.media import S3ProviderConfig
from persistence.media.storage import StoredFile

PRESIGNED_SECONDS = 300
"""How long a redirect to the bucket stays usable: a client follows it at once, and a leaked URL soon expires."""


class S3Provider:
    def __init__(self, config: S3ProviderConfig) -> None:
        import boto3

        self._bucket = config.bucket
        self._prefix = config.prefix
        self._client: Any = boto3.client(
            "s3", endpoint_url=config.endpoint_url, region_name=config.region_name,
            aws_access_key_id=config.access_key_id, aws_secret_access_key=config.secret_access_key)

    def upload(self, path: str, key: str) -> None:
        """Copy the local file at ``path`` to ``key``; an object appears only once complete (S3 semantics)."""
        self._client.upload_file(path, self._bucket, self._prefix + key)

    def open(self, key: str) -> StoredFile | None:
        try:
            found = self._client.get_object(Bucket=self._bucket, Key=self._prefix + key)
        except self._client.exceptions.NoSuchKey:
            return None
        return StoredFile(found["Body"], int(found["ContentLength"]))

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=self._prefix + key)

    def presigned_url(self, key: str, content_type: str, disposition: str) -> str | None:
        """A GET URL valid for :data:`PRESIGNED_SECONDS` that makes the bucket answer with our ``Content-Type``
        and ``Content-Disposition`` (S3's ``response-content-*`` overrides), so a redirected client gets the
        same inert headers we would have sent; None when the bucket lacks the object."""
        try:
            self._client.head_object(Bucket=self._bucket, Key=self._prefix + key)
        except self._client.exceptions.ClientError:
            return None
        url: str = self._client.generate_presigned_url("get_object", ExpiresIn=PRESIGNED_SECONDS, Params={
            "Bucket": self._bucket, "Key": self._prefix + key, "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition})
        return url
