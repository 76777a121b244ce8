#!/usr/bin/env python3
"""Reference requests from botocore, for the C++ tests to compare against.

Reads a JSON array of cases on stdin, each
    {"service": "cognito-sync"|"cognito-identity", "operation": "list_records",
     "params": {...}, "endpoint": "http://127.0.0.1:8765", "region": "us-east-1",
     "access_key": "...", "secret_key": "...", "session_token": null,
     "amz_date": "20150830T123600Z"}
and prints one JSON object per case: {"method", "rawpath", "headers": [[k, v]...], "body"}.

A case with "sign" instead of "operation" signs a request cairn built, with botocore's SigV4Auth:
    {"sign": {"method": ..., "url": ..., "headers": [[k, v]...], "body": ...},
     "service": ..., "region": ..., "access_key": ..., "secret_key": ...,
     "session_token": ..., "amz_date": ...}
and prints {"authorization": ...}.

botocore builds, serialises and signs the request exactly as it would send it; a before-send
hook captures it and stops it there, so nothing ever leaves the process. Timestamps in params are
written as {"$epoch": 1704164645.678}.
"""
import datetime
import json
import sys

import botocore.auth
import botocore.session


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def decode(value):
    if isinstance(value, dict):
        if set(value) == {"$epoch"}:
            return datetime.datetime.fromtimestamp(value["$epoch"], tz=datetime.timezone.utc)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def capture(session, case):
    amz_date = case.get("amz_date")
    if amz_date:
        fixed = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        botocore.auth.get_current_datetime = lambda *a, **k: fixed
    client = session.create_client(
        case["service"],
        region_name=case.get("region", "us-east-1"),
        endpoint_url=case.get("endpoint", "http://127.0.0.1:8765"),
        aws_access_key_id=case.get("access_key", "AKIDEXAMPLE"),
        aws_secret_access_key=case.get("secret_key", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        aws_session_token=case.get("session_token"),
    )

    def stop(request, **kwargs):
        raise Captured(request)

    client.meta.events.register("before-send", stop)
    try:
        getattr(client, case["operation"])(**decode(case.get("params", {})))
    except Captured as c:
        req = c.request
        url = req.url
        rawpath = url[url.index("/", url.index("://") + 3):]
        body = req.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        return {
            "method": req.method,
            "rawpath": rawpath,
            "headers": [[k, v.decode() if isinstance(v, bytes) else v] for k, v in req.headers.items()],
            "body": body or "",
        }
    raise RuntimeError("botocore sent nothing for " + case["operation"])


def sign(case):
    import botocore.awsrequest
    import botocore.credentials

    fixed = datetime.datetime.strptime(case["amz_date"], "%Y%m%dT%H%M%SZ")
    botocore.auth.get_current_datetime = lambda *a, **k: fixed
    spec = case["sign"]
    request = botocore.awsrequest.AWSRequest(
        method=spec["method"], url=spec["url"], data=spec["body"].encode("utf-8"))
    for name, value in spec["headers"]:
        request.headers[name] = value
    creds = botocore.credentials.Credentials(
        case["access_key"], case["secret_key"], case.get("session_token"))
    botocore.auth.SigV4Auth(creds, case["service"], case["region"]).add_auth(request)
    return {"authorization": request.headers["Authorization"]}


def main():
    cases = json.load(sys.stdin)
    session = botocore.session.get_session()
    for case in cases:
        print(json.dumps(sign(case) if "sign" in case else capture(session, case)))


if __name__ == "__main__":
    main()
