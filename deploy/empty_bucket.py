"""Empty an S3 bucket, every object version and delete marker included, so that CloudFormation can
delete it (it deletes only empty buckets). Run by `make teardown` with the tools venv's boto3:

    .venv-tools/bin/python deploy/empty_bucket.py <bucket>
"""

from __future__ import annotations

import sys

import boto3


def empty(bucket_name: str) -> int:
    """Delete everything in the bucket; the number of objects and versions deleted."""
    bucket = boto3.resource("s3").Bucket(bucket_name)
    deleted = 0
    # object_versions lists every version and delete marker (one "null" version when unversioned);
    # delete() sends them in batches of up to 1,000 per request, page by page.
    for answer in bucket.object_versions.delete():
        deleted += len(answer.get("Deleted", []))
        errors = answer.get("Errors", [])
        if errors:
            raise SystemExit(f"cannot delete from s3://{bucket_name}: {errors[0]}")
    return deleted


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1]:
        raise SystemExit("usage: empty_bucket.py <bucket> (the bucket name was empty: is the stack there?)")
    print(f"s3://{sys.argv[1]}: deleted {empty(sys.argv[1])} objects and versions")
