"""What the binding's tests need from the server's developer side, through boto3 with the admin
credentials of the test's cairn-server (CAIRN_ENDPOINT, CAIRN_POOL, CAIRN_ADMIN_KEY,
CAIRN_ADMIN_SECRET): the C# package has no admin client, as a game has none.

usage: developer_identity.py token LOGIN        prints "IDENTITY_ID TOKEN" for login.cairn=LOGIN
       developer_identity.py merge SOURCE DEST  merges SOURCE's identity into DEST's
"""
import os
import sys

import boto3


def main():
    client = boto3.client("cognito-identity", endpoint_url=os.environ["CAIRN_ENDPOINT"],
                          region_name="us-east-1",
                          aws_access_key_id=os.environ["CAIRN_ADMIN_KEY"],
                          aws_secret_access_key=os.environ["CAIRN_ADMIN_SECRET"])
    pool = os.environ["CAIRN_POOL"]
    if sys.argv[1] == "token":
        r = client.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool, Logins={"login.cairn": sys.argv[2]})
        print(r["IdentityId"], r["Token"])
    elif sys.argv[1] == "merge":
        client.merge_developer_identities(SourceUserIdentifier=sys.argv[2],
                                          DestinationUserIdentifier=sys.argv[3],
                                          DeveloperProviderName="login.cairn",
                                          IdentityPoolId=pool)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
