"""boto3 against the gateway, default configuration. Run by tests/it/clients.rs.

Environment: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, WORK_DIR;
ROOT_ACCESS_KEY_ID and ROOT_SECRET_ACCESS_KEY when the AWS_* key is a user's with read and
write grants on the bucket but not its owner: the root key then creates and deletes the bucket,
everything else runs with the user's key.
Prints one line per check; exits non-zero on the first failure.
"""
import hashlib
import os
import sys
import urllib.request

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["S3_ENDPOINT"]
WORK = os.environ["WORK_DIR"]


def check(name, cond):
    if not cond:
        print(f"FAIL {name}")
        sys.exit(1)
    print(f"ok   {name}")


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


def client(**cfg):
    return boto3.client("s3", endpoint_url=ENDPOINT, config=Config(s3={"addressing_style": "path"}, **cfg))


s3 = client()
root = s3
if "ROOT_ACCESS_KEY_ID" in os.environ:
    root = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=os.environ["ROOT_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["ROOT_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )
print("boto3", boto3.__version__, "botocore", botocore.__version__)
root.create_bucket(Bucket="boto")
check("create_bucket and list_buckets", [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["boto"])

data = os.urandom(200_000)
s3.put_object(Bucket="boto", Key="dir/obj.bin", Body=data, ContentType="application/x-test", Metadata={"k": "v"})
got = s3.get_object(Bucket="boto", Key="dir/obj.bin")
check("put/get round trip", got["Body"].read() == data)
check("etag is md5", got["ETag"] == '"%s"' % hashlib.md5(data).hexdigest())
check("metadata", got["Metadata"] == {"k": "v"} and got["ContentType"] == "application/x-test")

for alg in ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]:
    try:
        s3.put_object(Bucket="boto", Key=f"ck-{alg}", Body=data, ChecksumAlgorithm=alg)
    except ClientError as e:
        check(f"put with {alg}: {e}", False)
    head = s3.head_object(Bucket="boto", Key=f"ck-{alg}", ChecksumMode="ENABLED")
    check(f"checksum {alg} stored and returned", f"Checksum{alg}" in head)

# Unsigned trailers (what boto3 sends over HTTPS) forced over plain HTTP.
import botocore.httpchecksum as hc
_orig_urlparse = hc.urlparse
hc.urlparse = lambda u, *a, **k: _orig_urlparse(u.replace("http://", "https://", 1), *a, **k)
try:
    s3t = client()
    s3t.put_object(Bucket="boto", Key="trailer.bin", Body=data, ChecksumAlgorithm="CRC32C")
    head = s3t.head_object(Bucket="boto", Key="trailer.bin", ChecksumMode="ENABLED")
    check("unsigned trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER)", "ChecksumCRC32C" in head)
finally:
    hc.urlparse = _orig_urlparse
check("trailer object bytes", s3.get_object(Bucket="boto", Key="trailer.bin")["Body"].read() == data)

r = s3.get_object(Bucket="boto", Key="dir/obj.bin", Range="bytes=100-199")
check("range 206", r["ResponseMetadata"]["HTTPStatusCode"] == 206 and r["Body"].read() == data[100:200])

src = os.path.join(WORK, "upload.bin")
with open(src, "wb") as f:
    f.write(os.urandom(23 * 1024 * 1024 + 17))
tc = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
s3.upload_file(src, "boto", "big/upload.bin", Config=tc)
dst = os.path.join(WORK, "download.bin")
s3.download_file("boto", "big/upload.bin", dst, Config=tc)
check("multipart upload_file/download_file", open(src, "rb").read() == open(dst, "rb").read())
check("multipart etag has -3", s3.head_object(Bucket="boto", Key="big/upload.bin")["ETag"].endswith('-3"'))

s3.copy_object(Bucket="boto", Key="copy.bin", CopySource={"Bucket": "boto", "Key": "dir/obj.bin"})
check("copy_object", s3.get_object(Bucket="boto", Key="copy.bin")["Body"].read() == data)

listing = s3.list_objects_v2(Bucket="boto", Delimiter="/")
check("list with delimiter", [p["Prefix"] for p in listing["CommonPrefixes"]] == ["big/", "dir/"])

url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto", "Key": "dir/obj.bin"}, ExpiresIn=300)
check("presigned GET (default signer)", urllib.request.urlopen(url).read() == data)
s3v4 = client(signature_version="s3v4")
url = s3v4.generate_presigned_url("get_object", Params={"Bucket": "boto", "Key": "dir/obj.bin"}, ExpiresIn=300)
check("presigned GET (SigV4)", urllib.request.urlopen(url).read() == data)
url = s3v4.generate_presigned_url("put_object", Params={"Bucket": "boto", "Key": "presigned-put"}, ExpiresIn=300)
req = urllib.request.Request(url, data=b"via presigned put", method="PUT")
urllib.request.urlopen(req).read()
check("presigned PUT (SigV4)", s3.get_object(Bucket="boto", Key="presigned-put")["Body"].read() == b"via presigned put")

check("NoSuchKey", error_code(lambda: s3.get_object(Bucket="boto", Key="missing")) == ("NoSuchKey", 404))
check("BucketNotEmpty", error_code(lambda: root.delete_bucket(Bucket="boto")) == ("BucketNotEmpty", 409))
if root is not s3:
    check("a non-owner may not delete the bucket", error_code(lambda: s3.delete_bucket(Bucket="boto")) == ("AccessDenied", 403))
check("BadDigest on wrong Content-MD5", error_code(lambda: s3.put_object(Bucket="boto", Key="bad", Body=b"abc", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg=="))[0] == "BadDigest")

keys = [o["Key"] for o in s3.list_objects_v2(Bucket="boto")["Contents"]]
s3.delete_objects(Bucket="boto", Delete={"Objects": [{"Key": k} for k in keys]})
root.delete_bucket(Bucket="boto")
check("cleanup", s3.list_buckets()["Buckets"] == [])

# Versioning: the owner enables it; the user writes, reads and deletes versions.
root.create_bucket(Bucket="boto")
root.put_bucket_versioning(Bucket="boto", VersioningConfiguration={"Status": "Enabled"})
check("versioning enabled", s3.get_bucket_versioning(Bucket="boto").get("Status") == "Enabled")
ids = [s3.put_object(Bucket="boto", Key="v", Body=b"body %d" % i)["VersionId"] for i in range(3)]
check("a version id per put", len(set(ids)) == 3)
bodies = [s3.get_object(Bucket="boto", Key="v", VersionId=vid)["Body"].read() for vid in ids]
check("get by version id", bodies == [b"body %d" % i for i in range(3)])
marker = s3.delete_object(Bucket="boto", Key="v")
check("a delete makes a marker", marker.get("DeleteMarker") is True and marker.get("VersionId") not in ids)
check("behind a marker: NoSuchKey", error_code(lambda: s3.get_object(Bucket="boto", Key="v")) == ("NoSuchKey", 404))
pages = s3.get_paginator("list_object_versions").paginate(Bucket="boto", PaginationConfig={"PageSize": 1})
pages = list(pages)
listed = [(v["VersionId"], v["IsLatest"]) for p in pages for v in p.get("Versions", [])]
markers = [(m["VersionId"], m["IsLatest"]) for p in pages for m in p.get("DeleteMarkers", [])]
check("list_object_versions one per page, newest first", listed == [(i, False) for i in reversed(ids)])
check("the marker is the latest", markers == [(marker["VersionId"], True)])
# What boto3's resource API does to empty a versioned bucket: delete each page of versions.
resource = boto3.resource("s3", endpoint_url=ENDPOINT, config=Config(s3={"addressing_style": "path"}))
resource.Bucket("boto").object_versions.delete()
left = s3.list_object_versions(Bucket="boto")
check("every version deleted", not left.get("Versions") and not left.get("DeleteMarkers"))
root.delete_bucket(Bucket="boto")
check("the emptied versioned bucket deleted", s3.list_buckets()["Buckets"] == [])

# Object Lock and lifecycle: the owner makes a locked bucket; the user writes locked versions.
import datetime

root.create_bucket(Bucket="boto", ObjectLockEnabledForBucket=True)
in_an_hour = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(hours=1)
gov = s3.put_object(Bucket="boto", Key="gov", Body=b"governed", ObjectLockMode="GOVERNANCE",
                    ObjectLockRetainUntilDate=in_an_hour)["VersionId"]
comp = s3.put_object(Bucket="boto", Key="comp", Body=b"complied", ObjectLockMode="COMPLIANCE",
                     ObjectLockRetainUntilDate=in_an_hour)["VersionId"]
head = s3.head_object(Bucket="boto", Key="comp")
check("lock headers on HEAD", (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", in_an_hour))
retention = s3.get_object_retention(Bucket="boto", Key="gov", VersionId=gov)["Retention"]
check("get_object_retention", (retention["Mode"], retention["RetainUntilDate"]) == ("GOVERNANCE", in_an_hour))
root.put_object_legal_hold(Bucket="boto", Key="gov", VersionId=gov, LegalHold={"Status": "ON"})
check("legal hold on", s3.get_object_legal_hold(Bucket="boto", Key="gov", VersionId=gov)["LegalHold"]["Status"] == "ON")
for key, vid in [("gov", gov), ("comp", comp)]:
    denied = error_code(lambda: s3.delete_object(Bucket="boto", Key=key, VersionId=vid))
    check(f"{key}: deleting the version is refused", denied == ("AccessDenied", 403))
denied = error_code(lambda: root.delete_object(Bucket="boto", Key="comp", VersionId=comp, BypassGovernanceRetention=True))
check("compliance: the owner's bypass is refused too", denied == ("AccessDenied", 403))
root.put_object_legal_hold(Bucket="boto", Key="gov", VersionId=gov, LegalHold={"Status": "OFF"})
root.delete_object(Bucket="boto", Key="gov", VersionId=gov, BypassGovernanceRetention=True)
check("governance: the owner deletes with bypass", error_code(lambda: s3.head_object(Bucket="boto", Key="gov"))[1] == 404)
check("the compliance version is intact", s3.get_object(Bucket="boto", Key="comp", VersionId=comp)["Body"].read() == b"complied")
rules = [{"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}]
root.put_bucket_lifecycle_configuration(Bucket="boto", LifecycleConfiguration={"Rules": rules})
check("lifecycle read back", root.get_bucket_lifecycle_configuration(Bucket="boto")["Rules"] == rules)
expiring = s3.put_object(Bucket="boto", Key="tmp/x", Body=b"short-lived")
check("x-amz-expiration on PUT", 'rule-id="tmp"' in expiring.get("Expiration", ""))
print("boto3: all checks passed")
