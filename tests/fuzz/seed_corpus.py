#!/usr/bin/env python3
"""Seeds tests/fuzz/corpus/ from the captured requests in ../shared/spec/captures/ (boto3, the AWS
CLI and the JS SDK v3): each captured request becomes a server_request input (signed by the
harness, and as captured), each JSON body a client_responses input for every parser, and a few
push payloads in the shapes the push services deliver. Run it again when the captures change;
the corpus it writes is committed."""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(HERE, "..", "..", "..", "shared", "spec", "captures")
OUT = os.path.join(HERE, "corpus")
PARSERS = 17 + 14 + 2  # client_responses: sync parsers, identity parsers, two error protocols


def write(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    captures = sys.argv[1] if len(sys.argv) > 1 else CAPTURES
    requests = bodies = 0
    for file in sorted(os.listdir(captures)):
        if not file.endswith(".jsonl"):
            continue
        with open(os.path.join(captures, file)) as f:
            for line in f:
                r = json.loads(line)
                if "method" not in r:
                    continue
                skip = {"authorization", "x-amz-date", "host", "x-amz-security-token"}
                head = f"{r['method']} {r['rawpath']}\n"
                signed = head + "".join(f"{k}: {v}\n" for k, v in r["headers"]
                                        if k.lower() not in skip)
                raw = head + "".join(f"{k}: {v}\n" for k, v in r["headers"])
                body = r.get("body") or ""
                write("server_request", b"\x01" + (signed + "\n" + body).encode())
                write("server_request", b"\x00" + (raw + "\n" + body).encode())
                requests += 1
                if body:  # a request body as an answer: two parsers each (the fuzzer varies the byte)
                    h = int(hashlib.sha1(body.encode()).hexdigest(), 16)
                    for p in (h % PARSERS, (h // PARSERS) % PARSERS):
                        write("client_responses", bytes([p]) + body.encode())
                    bodies += 1
    answers = [
        '{"Records":[{"Key":"k","Value":"v","SyncCount":1,"LastModifiedDate":1.7E9,'
        '"LastModifiedBy":"d","DeviceLastModifiedDate":1700000000.123}],"Count":1,'
        '"DatasetSyncCount":1,"DatasetExists":true,"MergedDatasetNames":["s.x"],'
        '"DatasetDeletedAfterRequestedSyncCount":false,"SyncSessionToken":"t","NextToken":"n"}',
        '{"IdentityId":"us-east-1:0b4a7c6e-1111-2222-3333-444455556666","Credentials":'
        '{"AccessKeyId":"ASIA","SecretKey":"s","SessionToken":"t","Expiration":1.9E9}}',
        '{"__type":"ResourceConflictException","message":"Current SyncCount for: k is: 2 not: 1"}',
        'ResourceConflictException:http://internal.amazon.com/coral/com.amazon.coral.service/\n'
        '{"message":"conflict"}',
        '{"Datasets":[{"DatasetName":"s","CreationDate":1.7E9,"NumRecords":3,"DataStorage":10}],'
        '"Count":1,"NextToken":"n"}',
    ]
    for a in answers:
        for p in range(PARSERS):
            write("client_responses", bytes([p]) + a.encode())
    pushes = [
        '{"source":"cognito-sync","identityPoolId":"us-east-1:00000000-0000-4000-8000-000000000000",'
        '"identityId":"us-east-1:0b4a7c6e-1111-2222-3333-444455556666","datasetName":"save",'
        '"syncCount":"3"}',
        '{"data":{"source":"cognito-sync","identityId":"us-east-1:x","datasetName":"save",'
        '"syncCount":7}}',
        '{"source":"other"}',
    ]
    for p in pushes:
        write("push_payload", p.encode())
    print(f"seed_corpus: {requests} requests, {bodies} bodies, {len(answers)} answers, "
          f"{len(pushes)} push payloads into {OUT}")


if __name__ == "__main__":
    main()
