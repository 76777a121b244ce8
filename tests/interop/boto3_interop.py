#!/usr/bin/env python3
"""Unmodified boto3 and the AWS CLI against cairn-server: every Cognito Sync operation and the
Cognito Identity subset, the identity flow, developer-authenticated identities and merges.

Usage: boto3_interop.py --server PATH/TO/cairn-server
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time
import unittest

import boto3
import botocore.config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_process import ADMIN_KEY, ADMIN_SECRET, CairnServer  # noqa: E402

SERVER_BINARY = None


def error_code(exc):
    return exc.response["Error"]["Code"]


class Boto3Interop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = CairnServer(SERVER_BINARY)
        cls.pool = cls.server.pool
        kw = dict(endpoint_url=cls.server.url, region_name="us-east-1")
        cls.admin_kw = dict(kw, aws_access_key_id=ADMIN_KEY, aws_secret_access_key=ADMIN_SECRET)
        cls.kw = kw
        cls.identity = boto3.client("cognito-identity", **cls.admin_kw)
        cls.sync = boto3.client("cognito-sync", **cls.admin_kw)

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def device(self, logins=None):
        """The game-client flow: GetId and GetCredentialsForIdentity, sent unsigned by boto3."""
        args = {"IdentityPoolId": self.pool}
        if logins:
            args["Logins"] = logins
        identity_id = self.identity.get_id(**args)["IdentityId"]
        cargs = {"IdentityId": identity_id}
        if logins:
            cargs["Logins"] = logins
        creds = self.identity.get_credentials_for_identity(**cargs)
        self.assertEqual(creds["IdentityId"], identity_id)
        c = creds["Credentials"]
        self.assertIsInstance(c["Expiration"], datetime.datetime)
        client = boto3.client("cognito-sync", aws_access_key_id=c["AccessKeyId"],
                              aws_secret_access_key=c["SecretKey"], aws_session_token=c["SessionToken"],
                              **self.kw)
        return identity_id, client

    def test_sync_operations_with_identity_credentials(self):
        idn, sync = self.device()
        lr = sync.list_records(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="my.data_set-1:x",
                               LastSyncCount=0)
        self.assertFalse(lr["DatasetExists"])
        self.assertEqual(lr["DatasetSyncCount"], 0)
        token = lr["SyncSessionToken"]
        ur = sync.update_records(
            IdentityPoolId=self.pool, IdentityId=idn, DatasetName="my.data_set-1:x", SyncSessionToken=token,
            DeviceId="dev-1", ClientContext="eyJjbGllbnQiOnt9fQ==",
            RecordPatches=[{"Op": "replace", "Key": "highScore", "Value": "100", "SyncCount": 0,
                            "DeviceLastModifiedDate": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)},
                           {"Op": "replace", "Key": "name", "Value": "", "SyncCount": 0}])
        self.assertEqual([r["SyncCount"] for r in ur["Records"]], [1, 1])
        self.assertEqual(ur["Records"][0]["DeviceLastModifiedDate"].year, 2024)
        self.assertIsInstance(ur["Records"][0]["LastModifiedDate"], datetime.datetime)
        with self.assertRaises(ClientError) as conflict:
            sync.update_records(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="my.data_set-1:x",
                                SyncSessionToken=token,
                                RecordPatches=[{"Op": "replace", "Key": "highScore", "Value": "1", "SyncCount": 0}])
        self.assertEqual(error_code(conflict.exception), "ResourceConflictException")
        self.assertEqual(conflict.exception.response["ResponseMetadata"]["HTTPStatusCode"], 409)
        self.assertEqual(conflict.exception.response["Error"]["Message"],
                         "Current SyncCount for: highScore is: 1 not: 0")
        sync.update_records(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="my.data_set-1:x",
                            SyncSessionToken=token, RecordPatches=[{"Op": "remove", "Key": "name", "SyncCount": 1}])
        delta = sync.list_records(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="my.data_set-1:x",
                                  LastSyncCount=1, MaxResults=1024)
        self.assertEqual(delta["Records"][0]["Key"], "name")
        self.assertNotIn("Value", delta["Records"][0])  # a tombstone
        self.assertEqual(delta["DatasetSyncCount"], 2)
        self.assertTrue(delta["ResponseMetadata"]["RequestId"])

        ds = sync.describe_dataset(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="my.data_set-1:x")
        self.assertEqual(ds["Dataset"]["NumRecords"], 1)
        self.assertEqual(ds["Dataset"]["DataStorage"], len("highScore100"))
        self.assertEqual(sync.list_datasets(IdentityPoolId=self.pool, IdentityId=idn)["Count"], 1)
        usage = sync.describe_identity_usage(IdentityPoolId=self.pool, IdentityId=idn)["IdentityUsage"]
        self.assertEqual(usage["DatasetCount"], 1)

        dev = sync.register_device(IdentityPoolId=self.pool, IdentityId=idn, Platform="GCM", Token="push-token-xyz")
        device_id = dev["DeviceId"]
        sync.subscribe_to_dataset(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="my.data_set-1:x",
                                  DeviceId=device_id)
        sync.unsubscribe_from_dataset(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="my.data_set-1:x",
                                      DeviceId=device_id)

        deleted = sync.delete_dataset(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="my.data_set-1:x")
        self.assertEqual(deleted["Dataset"]["DatasetName"], "my.data_set-1:x")
        with self.assertRaises(ClientError) as gone:
            sync.describe_dataset(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="my.data_set-1:x")
        self.assertEqual(error_code(gone.exception), "ResourceNotFoundException")

    def test_server_validates_what_botocore_does_not(self):
        idn, sync = self.device()
        for bad in ({"DatasetName": "no spaces"}, {"DatasetName": "x" * 129}):
            with self.assertRaises(ClientError) as e:
                sync.list_records(IdentityPoolId=self.pool, IdentityId=idn, **bad)
            self.assertEqual(error_code(e.exception), "InvalidParameterException")
        token = sync.list_records(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="d")["SyncSessionToken"]
        with self.assertRaises(ClientError) as e:
            sync.update_records(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="d", SyncSessionToken=token,
                                RecordPatches=[{"Op": "upsert", "Key": "k" * 2000, "SyncCount": 0}])
        self.assertEqual(error_code(e.exception), "InvalidParameterException")
        with self.assertRaises(ClientError) as e:
            sync.update_records(IdentityPoolId=self.pool, IdentityId=idn, DatasetName="d",
                                SyncSessionToken="forged",
                                RecordPatches=[{"Op": "replace", "Key": "k", "Value": "v", "SyncCount": 0}])
        self.assertEqual(e.exception.response["Error"]["Message"], "SyncSessionToken not valid for these inputs")

    def test_isolation_between_identities(self):
        idn_a, sync_a = self.device()
        idn_b, _ = self.device()
        with self.assertRaises(ClientError) as e:
            sync_a.list_records(IdentityPoolId=self.pool, IdentityId=idn_b, DatasetName="d")
        self.assertEqual(error_code(e.exception), "NotAuthorizedException")
        with self.assertRaises(ClientError) as e:
            sync_a.describe_identity_pool_usage(IdentityPoolId=self.pool)
        self.assertEqual(error_code(e.exception), "NotAuthorizedException")

    def test_admin_operations(self):
        usage = self.sync.describe_identity_pool_usage(IdentityPoolId=self.pool)["IdentityPoolUsage"]
        self.assertEqual(usage["IdentityPoolId"], self.pool)
        pools = self.sync.list_identity_pool_usage(MaxResults=5)
        self.assertGreaterEqual(pools["Count"], 1)
        self.sync.set_cognito_events(IdentityPoolId=self.pool,
                                     Events={"SyncTrigger": "arn:aws:lambda:us-east-1:123456789012:function:fn"})
        self.assertEqual(self.sync.get_cognito_events(IdentityPoolId=self.pool)["Events"]["SyncTrigger"],
                         "arn:aws:lambda:us-east-1:123456789012:function:fn")
        cfg = self.sync.set_identity_pool_configuration(
            IdentityPoolId=self.pool,
            PushSync={"ApplicationArns": ["arn:aws:sns:us-east-1:123456789012:app/GCM/MyApp"],
                      "RoleArn": "arn:aws:iam::123456789012:role/r"},
            CognitoStreams={"StreamName": "s", "RoleArn": "arn:aws:iam::123456789012:role/r",
                            "StreamingStatus": "ENABLED"})
        self.assertEqual(cfg["CognitoStreams"]["StreamingStatus"], "ENABLED")
        got = self.sync.get_identity_pool_configuration(IdentityPoolId=self.pool)
        self.assertEqual(got["PushSync"]["ApplicationArns"], ["arn:aws:sns:us-east-1:123456789012:app/GCM/MyApp"])
        self.assertEqual(self.sync.bulk_publish(IdentityPoolId=self.pool)["IdentityPoolId"], self.pool)
        for _ in range(100):
            details = self.sync.get_bulk_publish_details(IdentityPoolId=self.pool)
            if details["BulkPublishStatus"] == "SUCCEEDED":
                break
            time.sleep(0.05)
        self.assertEqual(details["BulkPublishStatus"], "SUCCEEDED")
        self.assertIsInstance(details["BulkPublishStartTime"], datetime.datetime)
        with self.assertRaises(ClientError) as e:
            self.sync.bulk_publish(IdentityPoolId=self.pool)
        self.assertEqual(error_code(e.exception), "AlreadyStreamedException")

    def test_identity_pools_and_developer_identities(self):
        created = self.identity.create_identity_pool(
            IdentityPoolName="boto pool", AllowUnauthenticatedIdentities=False,
            DeveloperProviderName="login.boto", SupportedLoginProviders={"graph.facebook.com": "123"})
        pool = created["IdentityPoolId"]
        self.assertEqual(self.identity.describe_identity_pool(IdentityPoolId=pool)["DeveloperProviderName"], "login.boto")
        names = [p["IdentityPoolName"]
                 for page in self.identity.get_paginator("list_identity_pools").paginate(MaxResults=1, PaginationConfig={"PageSize": 1})
                 for p in page["IdentityPools"]]
        self.assertIn("boto pool", names)
        with self.assertRaises(ClientError) as e:
            self.identity.get_id(IdentityPoolId=pool)
        self.assertEqual(error_code(e.exception), "NotAuthorizedException")

        alice = self.identity.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool, Logins={"login.boto": "alice"}, TokenDuration=600)
        bob = self.identity.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={"login.boto": "bob"})
        self.assertNotEqual(alice["IdentityId"], bob["IdentityId"])
        looked = self.identity.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier="alice", MaxResults=10)
        self.assertEqual(looked["IdentityId"], alice["IdentityId"])

        # A developer identity signs in with its token, as a game client would.
        logins = {"cognito-identity.amazonaws.com": bob["Token"]}
        creds = self.identity.get_credentials_for_identity(IdentityId=bob["IdentityId"], Logins=logins)["Credentials"]
        bob_sync = boto3.client("cognito-sync", aws_access_key_id=creds["AccessKeyId"],
                                aws_secret_access_key=creds["SecretKey"], aws_session_token=creds["SessionToken"], **self.kw)
        token = bob_sync.list_records(IdentityPoolId=pool, IdentityId=bob["IdentityId"], DatasetName="save")["SyncSessionToken"]
        bob_sync.update_records(IdentityPoolId=pool, IdentityId=bob["IdentityId"], DatasetName="save",
                                SyncSessionToken=token,
                                RecordPatches=[{"Op": "replace", "Key": "level", "Value": "9", "SyncCount": 0}])
        oid = self.identity.get_open_id_token(IdentityId=bob["IdentityId"], Logins=logins)
        self.assertEqual(oid["IdentityId"], bob["IdentityId"])

        merged = self.identity.merge_developer_identities(
            SourceUserIdentifier="bob", DestinationUserIdentifier="alice", DeveloperProviderName="login.boto",
            IdentityPoolId=pool)
        self.assertEqual(merged["IdentityId"], alice["IdentityId"])
        lr = self.sync.list_records(IdentityPoolId=pool, IdentityId=alice["IdentityId"], DatasetName="save")
        self.assertEqual(lr["MergedDatasetNames"], ["save." + bob["IdentityId"]])
        names = [d["DatasetName"] for d in self.sync.list_datasets(IdentityPoolId=pool, IdentityId=alice["IdentityId"])["Datasets"]]
        self.assertEqual(names, ["save." + bob["IdentityId"]])

        described = self.identity.describe_identity(IdentityId=alice["IdentityId"])
        self.assertEqual(described["Logins"], ["login.boto"])
        self.assertIsInstance(described["CreationDate"], datetime.datetime)
        listed = self.identity.list_identities(IdentityPoolId=pool, MaxResults=60)
        self.assertEqual([i["IdentityId"] for i in listed["Identities"]], [alice["IdentityId"]])
        self.identity.unlink_developer_identity(IdentityId=alice["IdentityId"], IdentityPoolId=pool,
                                                DeveloperProviderName="login.boto", DeveloperUserIdentifier="bob")
        deleted = self.identity.delete_identities(IdentityIdsToDelete=[alice["IdentityId"]])
        self.assertEqual(deleted["UnprocessedIdentityIds"], [])
        self.identity.delete_identity_pool(IdentityPoolId=pool)
        with self.assertRaises(ClientError) as e:
            self.identity.describe_identity_pool(IdentityPoolId=pool)
        self.assertEqual(error_code(e.exception), "ResourceNotFoundException")


class Boto3Throttling(unittest.TestCase):
    """A server with tiny limits: boto3 parses each refusal as TooManyRequestsException, and its
    own retries (which a throttle gets) end in the same error."""

    @classmethod
    def setUpClass(cls):
        cls.server = CairnServer(SERVER_BINARY, extra=(
            "--source-per-second", "0.001", "--source-burst", "3",
            "--identity-reads-per-second", "0.001", "--identity-reads-burst", "2"))
        kw = dict(endpoint_url=cls.server.url, region_name="us-east-1")
        cls.kw = kw
        no_retry = botocore.config.Config(retries={"max_attempts": 1})
        cls.identity = boto3.client("cognito-identity", config=no_retry, **kw)

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def test_throttles_parse_as_too_many_requests(self):
        identity_id = self.identity.get_id(IdentityPoolId=self.server.pool)["IdentityId"]
        c = self.identity.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
        self.identity.get_id(IdentityPoolId=self.server.pool)
        with self.assertRaises(ClientError) as e:
            self.identity.get_id(IdentityPoolId=self.server.pool)
        self.assertEqual(error_code(e.exception), "TooManyRequestsException")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"], "1000")
        sync = boto3.client("cognito-sync", aws_access_key_id=c["AccessKeyId"],
                            aws_secret_access_key=c["SecretKey"], aws_session_token=c["SessionToken"],
                            config=botocore.config.Config(retries={"max_attempts": 2, "mode": "standard"}),
                            **self.kw)
        sync.list_datasets(IdentityPoolId=self.server.pool, IdentityId=identity_id)
        sync.list_datasets(IdentityPoolId=self.server.pool, IdentityId=identity_id)
        with self.assertRaises(ClientError) as e:
            sync.list_datasets(IdentityPoolId=self.server.pool, IdentityId=identity_id)
        self.assertEqual(error_code(e.exception), "TooManyRequestsException")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 429)
        self.assertGreaterEqual(e.exception.response["ResponseMetadata"]["RetryAttempts"], 1,
                                "boto3 retries a throttle")


class AwsCliInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = CairnServer(SERVER_BINARY)
        # As docs/server.md shows it: the admin pair in the environment, the region on the
        # command line.
        cls.env = dict(os.environ, AWS_ACCESS_KEY_ID=ADMIN_KEY, AWS_SECRET_ACCESS_KEY=ADMIN_SECRET,
                       AWS_PAGER="")
        for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            cls.env.pop(var, None)
        cls.env.pop("AWS_PROFILE", None)

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def aws(self, *args):
        out = subprocess.run([sys.executable, "-m", "awscli", *args, "--endpoint-url", self.server.url,
                              "--region", "us-east-1", "--output", "json"], env=self.env, capture_output=True, text=True, timeout=60)
        return out.returncode, (json.loads(out.stdout) if out.stdout.strip() else {}), out.stderr

    def test_a_few_calls(self):
        pool = self.server.pool
        rc, out, err = self.aws("cognito-identity", "list-identity-pools", "--max-results", "10")
        self.assertEqual(rc, 0, err)
        self.assertIn(pool, [p["IdentityPoolId"] for p in out["IdentityPools"]])
        rc, out, err = self.aws("cognito-identity", "get-id", "--identity-pool-id", pool)
        self.assertEqual(rc, 0, err)
        idn = out["IdentityId"]
        rc, out, err = self.aws("cognito-sync", "list-records", "--identity-pool-id", pool, "--identity-id", idn,
                                "--dataset-name", "settings")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.aws("cognito-sync", "update-records", "--identity-pool-id", pool, "--identity-id", idn,
                                "--dataset-name", "settings", "--sync-session-token", out["SyncSessionToken"],
                                "--client-context", "eyJ9",
                                "--record-patches", "Op=replace,Key=k,Value=v,SyncCount=0")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["Records"][0]["SyncCount"], 1)
        rc, out, err = self.aws("cognito-sync", "describe-dataset", "--identity-pool-id", pool, "--identity-id", idn,
                                "--dataset-name", "settings")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["Dataset"]["NumRecords"], 1)
        rc, out, err = self.aws("cognito-sync", "describe-dataset", "--identity-pool-id", pool, "--identity-id", idn,
                                "--dataset-name", "missing")
        self.assertNotEqual(rc, 0)
        self.assertIn("ResourceNotFoundException", err)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    args, rest = parser.parse_known_args()
    SERVER_BINARY = args.server
    unittest.main(argv=[sys.argv[0], "-v", *rest])
