"""Sign a request with botocore, as boto3 and the AWS CLI do, and print it.

Usage: SIGN_SECRET=... sign_botocore.py header|presign URL ACCESS_KEY REGION [BODY]
Prints {"method", "url", "headers", "body"} as JSON for the Go test to send.
The secret comes from the environment so it never shows in a process list.
"""
import json
import os
import sys

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

mode, url, key, region = sys.argv[1:5]
body = sys.argv[5] if len(sys.argv) > 5 else ""
creds = Credentials(key, os.environ["SIGN_SECRET"])

if mode == "header":
    req = AWSRequest(method="POST", url=url, data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(creds, "rds", region).add_auth(req)
else:
    req = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(creds, "rds", region, expires=300).add_auth(req)

prepared = req.prepare()
print(json.dumps({
    "method": prepared.method,
    "url": prepared.url,
    "headers": dict(prepared.headers),
    "body": body,
}))
