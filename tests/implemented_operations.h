// The operations cairn implements, by service: all 17 of Cognito Sync, and the 14 of Cognito
// Identity a game and its backend need (docs/server.md). Tests that walk the models use these
// lists to know which operations to expect an answer from.
#pragma once

namespace cairn::testing {

inline const char* const kSyncOperations[] = {"ListIdentityPoolUsage",
                                              "DescribeIdentityPoolUsage",
                                              "BulkPublish",
                                              "GetBulkPublishDetails",
                                              "GetCognitoEvents",
                                              "SetCognitoEvents",
                                              "GetIdentityPoolConfiguration",
                                              "SetIdentityPoolConfiguration",
                                              "DescribeIdentityUsage",
                                              "ListDatasets",
                                              "DescribeDataset",
                                              "ListRecords",
                                              "UpdateRecords",
                                              "DeleteDataset",
                                              "RegisterDevice",
                                              "SubscribeToDataset",
                                              "UnsubscribeFromDataset"};

inline const char* const kIdentityOperations[] = {"CreateIdentityPool",
                                                  "DescribeIdentityPool",
                                                  "ListIdentityPools",
                                                  "DeleteIdentityPool",
                                                  "GetId",
                                                  "GetCredentialsForIdentity",
                                                  "GetOpenIdToken",
                                                  "GetOpenIdTokenForDeveloperIdentity",
                                                  "LookupDeveloperIdentity",
                                                  "MergeDeveloperIdentities",
                                                  "UnlinkDeveloperIdentity",
                                                  "DescribeIdentity",
                                                  "ListIdentities",
                                                  "DeleteIdentities"};

}  // namespace cairn::testing
