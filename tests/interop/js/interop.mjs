// Unmodified AWS SDK for JavaScript v3 against cairn-server. Usage: node interop.mjs SERVER_BINARY
// It starts its own server on a free loopback port, drives both services, and exits non-zero on
// the first failed check.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";
import {
  CognitoSyncClient, ListRecordsCommand, UpdateRecordsCommand, DescribeDatasetCommand,
  ListDatasetsCommand, DeleteDatasetCommand, RegisterDeviceCommand, SubscribeToDatasetCommand,
  DescribeIdentityPoolUsageCommand, SetCognitoEventsCommand, GetCognitoEventsCommand,
  SetIdentityPoolConfigurationCommand, GetIdentityPoolConfigurationCommand,
} from "@aws-sdk/client-cognito-sync";
import {
  CognitoIdentityClient, GetIdCommand, GetCredentialsForIdentityCommand,
  GetOpenIdTokenForDeveloperIdentityCommand, MergeDeveloperIdentitiesCommand, ListIdentityPoolsCommand,
  DescribeIdentityCommand,
} from "@aws-sdk/client-cognito-identity";

const ADMIN = { accessKeyId: "AKIDCAIRNJS", secretAccessKey: "js-admin-secret" };

// SQLite in a temporary directory, or, in the PostgreSQL copy of the suite (CAIRN_TEST_PG_STATE
// names the throwaway cluster ctest started), a fresh schema on that cluster.
function testDb(dir) {
  const state = process.env.CAIRN_TEST_PG_STATE;
  if (!state) return `sqlite:${join(dir, "cairn.db")}`;
  const url = readFileSync(state, "utf8").split("\n")[1];
  return `${url}?schema=t_${randomBytes(8).toString("hex")}`;
}

async function startServer(binary) {
  const dir = mkdtempSync(join(tmpdir(), "cairn-js-"));
  const proc = spawn(binary, ["--listen", "127.0.0.1:0", "--db", testDb(dir),
    "--bootstrap-pool", "game", "--log-level", "warn",
    "--admin-access-key-id", ADMIN.accessKeyId, "--admin-secret-access-key", ADMIN.secretAccessKey],
    { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout });
  let pool, url;
  for await (const line of lines) {
    if (line.startsWith("identity-pool game ")) pool = line.split(" ")[2];
    if (line.startsWith("cairn-server listening on ")) { url = line.split(" ").pop(); break; }
  }
  return { proc, dir, pool, url };
}

async function expectError(promise, name) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${name}`);
}

const server = await startServer(process.argv[2]);
const common = { endpoint: server.url, region: "us-east-1" };
let checks = 0;
try {
  const identity = new CognitoIdentityClient({ ...common, credentials: ADMIN });
  const admin = new CognitoSyncClient({ ...common, credentials: ADMIN });

  // The game-client flow, unsigned.
  const { IdentityId } = await identity.send(new GetIdCommand({ IdentityPoolId: server.pool }));
  const { Credentials } = await identity.send(new GetCredentialsForIdentityCommand({ IdentityId }));
  assert.ok(Credentials.Expiration instanceof Date); checks++;
  const sync = new CognitoSyncClient({ ...common, credentials: {
    accessKeyId: Credentials.AccessKeyId, secretAccessKey: Credentials.SecretKey, sessionToken: Credentials.SessionToken } });

  const base = { IdentityPoolId: server.pool, IdentityId };
  const lr = await sync.send(new ListRecordsCommand({ ...base, DatasetName: "my.data_set-1:x", LastSyncCount: 0 }));
  assert.equal(lr.DatasetExists, false); checks++;
  const ur = await sync.send(new UpdateRecordsCommand({ ...base, DatasetName: "my.data_set-1:x",
    SyncSessionToken: lr.SyncSessionToken, ClientContext: "eyJjbGllbnQiOnt9fQ==",
    RecordPatches: [{ Op: "replace", Key: "highScore", Value: "100", SyncCount: 0,
      DeviceLastModifiedDate: new Date("2024-01-02T03:04:05.678Z") }] }));
  assert.equal(ur.Records[0].SyncCount, 1); checks++;
  assert.equal(ur.Records[0].DeviceLastModifiedDate.toISOString(), "2024-01-02T03:04:05.678Z",
    "JS sends fractional seconds; the server keeps milliseconds"); checks++;
  assert.ok(ur.Records[0].LastModifiedDate instanceof Date); checks++;
  const conflict = await expectError(sync.send(new UpdateRecordsCommand({ ...base, DatasetName: "my.data_set-1:x",
    SyncSessionToken: lr.SyncSessionToken,
    RecordPatches: [{ Op: "replace", Key: "highScore", Value: "1", SyncCount: 0 }] })), "ResourceConflictException");
  assert.equal(conflict.$metadata.httpStatusCode, 409); checks++;
  assert.equal(conflict.message, "Current SyncCount for: highScore is: 1 not: 0"); checks++;

  // What JS v3 does not validate, the server does: an UpdateRecords with no token, an empty label.
  await expectError(sync.send(new UpdateRecordsCommand({ ...base, DatasetName: "d" })), "InvalidParameterException"); checks++;
  await expectError(sync.send(new DescribeDatasetCommand({ ...base, DatasetName: "" })), "InvalidParameterException"); checks++;
  await expectError(sync.send(new UpdateRecordsCommand({ ...base, DatasetName: "d", SyncSessionToken: lr.SyncSessionToken,
    RecordPatches: [{ Op: "upsert", Key: "k".repeat(2000), SyncCount: 0 }] })), "InvalidParameterException"); checks++;

  const ds = await sync.send(new DescribeDatasetCommand({ ...base, DatasetName: "my.data_set-1:x" }));
  assert.equal(ds.Dataset.NumRecords, 1); checks++;
  assert.equal((await sync.send(new ListDatasetsCommand(base))).Count, 1); checks++;
  const dev = await sync.send(new RegisterDeviceCommand({ ...base, Platform: "GCM", Token: "push-token-xyz" }));
  await sync.send(new SubscribeToDatasetCommand({ ...base, DatasetName: "my.data_set-1:x", DeviceId: dev.DeviceId })); checks++;
  await expectError(sync.send(new DescribeIdentityPoolUsageCommand({ IdentityPoolId: server.pool })), "NotAuthorizedException"); checks++;
  await sync.send(new DeleteDatasetCommand({ ...base, DatasetName: "my.data_set-1:x" }));
  await expectError(sync.send(new DescribeDatasetCommand({ ...base, DatasetName: "my.data_set-1:x" })), "ResourceNotFoundException"); checks++;

  // Developer operations.
  const usage = await admin.send(new DescribeIdentityPoolUsageCommand({ IdentityPoolId: server.pool }));
  assert.ok(usage.IdentityPoolUsage.LastModifiedDate instanceof Date); checks++;
  await admin.send(new SetCognitoEventsCommand({ IdentityPoolId: server.pool,
    Events: { SyncTrigger: "arn:aws:lambda:us-east-1:123456789012:function:fn" } }));
  assert.equal((await admin.send(new GetCognitoEventsCommand({ IdentityPoolId: server.pool }))).Events.SyncTrigger,
    "arn:aws:lambda:us-east-1:123456789012:function:fn"); checks++;
  await admin.send(new SetIdentityPoolConfigurationCommand({ IdentityPoolId: server.pool,
    PushSync: { ApplicationArns: ["arn:aws:sns:us-east-1:123456789012:app/GCM/MyApp"], RoleArn: "arn:aws:iam::123456789012:role/r" } }));
  const cfg = await admin.send(new GetIdentityPoolConfigurationCommand({ IdentityPoolId: server.pool }));
  assert.deepEqual(cfg.PushSync.ApplicationArns, ["arn:aws:sns:us-east-1:123456789012:app/GCM/MyApp"]); checks++;

  // Developer-authenticated identities and a merge.
  const alice = await identity.send(new GetOpenIdTokenForDeveloperIdentityCommand({ IdentityPoolId: server.pool, Logins: { "login.cairn": "alice" } }));
  const bob = await identity.send(new GetOpenIdTokenForDeveloperIdentityCommand({ IdentityPoolId: server.pool, Logins: { "login.cairn": "bob" } }));
  const bobCreds = await identity.send(new GetCredentialsForIdentityCommand({ IdentityId: bob.IdentityId,
    Logins: { "cognito-identity.amazonaws.com": bob.Token } }));
  assert.equal(bobCreds.IdentityId, bob.IdentityId); checks++;
  const bobBase = { IdentityPoolId: server.pool, IdentityId: bob.IdentityId };
  const t = await admin.send(new ListRecordsCommand({ ...bobBase, DatasetName: "save" }));
  await admin.send(new UpdateRecordsCommand({ ...bobBase, DatasetName: "save", SyncSessionToken: t.SyncSessionToken,
    RecordPatches: [{ Op: "replace", Key: "level", Value: "4", SyncCount: 0 }] }));
  const merged = await identity.send(new MergeDeveloperIdentitiesCommand({ SourceUserIdentifier: "bob",
    DestinationUserIdentifier: "alice", DeveloperProviderName: "login.cairn", IdentityPoolId: server.pool }));
  assert.equal(merged.IdentityId, alice.IdentityId); checks++;
  const root = await admin.send(new ListRecordsCommand({ IdentityPoolId: server.pool, IdentityId: alice.IdentityId, DatasetName: "save" }));
  assert.deepEqual(root.MergedDatasetNames, [`save.${bob.IdentityId}`]); checks++;
  const described = await identity.send(new DescribeIdentityCommand({ IdentityId: alice.IdentityId }));
  assert.deepEqual(described.Logins, ["login.cairn"]); checks++;
  const pools = await identity.send(new ListIdentityPoolsCommand({ MaxResults: 10 }));
  assert.ok(pools.IdentityPools.some((p) => p.IdentityPoolId === server.pool)); checks++;
  console.log(`js interop: ${checks} passed, 0 failed`);
} catch (e) {
  console.error("js interop failed:", e);
  process.exitCode = 1;
} finally {
  server.proc.kill("SIGTERM");
  await new Promise((resolve) => server.proc.on("exit", resolve));
  rmSync(server.dir, { recursive: true, force: true });
}
