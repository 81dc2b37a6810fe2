#!/usr/bin/env bash
# Object store servers for the tests, on free ports on 127.0.0.1:
#   - S3: moto's server (PyPI `moto[server]`, from scripts/python-env.sh), checking
#     signatures and permissions: requests need a key this script creates;
#   - Azure Blob Storage: Azurite (npm `azurite`, installed under ~/.cache when missing);
#   - Google Cloud Storage: gcp-storage-emulator (PyPI) with the XML API that object_store
#     speaks added by scripts/gcs-emulator.py.
#
#   eval "$(bash scripts/object-stores.sh start DIR)"   prints the exports tests read:
#        AQUEDUCTS_TEST_S3_ENDPOINT, AQUEDUCTS_TEST_S3_ACCESS_KEY_ID,
#        AQUEDUCTS_TEST_S3_SECRET_ACCESS_KEY (and _S3_READER_ for a read-only user),
#        AQUEDUCTS_TEST_AZURE_ENDPOINT,
#        AQUEDUCTS_TEST_GCS_ENDPOINT
#   bash scripts/object-stores.sh stop DIR
set -euo pipefail
cd "$(dirname "$0")/.."
action="${1:?start or stop}"
dir="${2:?a directory for the server state}"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # URL NAME (its pid in $dir/NAME.pid)
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    kill -0 "$(cat "$dir/$2.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "$2 did not start; its log:" >&2
  cat "$dir/$2.log" >&2 || true
  exit 1
}

case "$action" in
  start)
    mkdir -p "$dir"
    python="$(bash scripts/python-env.sh)"
    port="$(free_port)"
    "$(dirname "$python")/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    wait_for "http://127.0.0.1:$port/" moto
    "$python" - "http://127.0.0.1:$port" <<'PY'
# A user who may do anything and one who may only read.
import json, sys
import boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")
for user, actions, variable in [
    ("aqueducts-tests", ["*"], "AQUEDUCTS_TEST_S3"),
    ("aqueducts-reader", ["s3:GetObject", "s3:ListBucket"], "AQUEDUCTS_TEST_S3_READER"),
]:
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="policy", PolicyDocument=json.dumps(policy))
    print("export {}_ACCESS_KEY_ID={}".format(variable, key["AccessKeyId"]))
    print("export {}_SECRET_ACCESS_KEY={}".format(variable, key["SecretAccessKey"]))
PY
    # From here on moto checks every request's signature and the user's permissions.
    curl -sf -X POST -H "Content-Type: text/plain" --data 0 "http://127.0.0.1:$port/moto-api/reset-auth" >/dev/null
    echo "export AQUEDUCTS_TEST_S3_ENDPOINT=http://127.0.0.1:$port"

    node_dir="${AQUEDUCTS_NODE_TOOLS:-$HOME/.cache/aqueducts-node}"
    if [ ! -x "$node_dir/node_modules/.bin/azurite-blob" ]; then
      mkdir -p "$node_dir"
      npm install --silent --no-audit --no-fund --prefix "$node_dir" azurite@3.37.0 >&2
    fi
    port="$(free_port)"
    "$node_dir/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$port" \
      --location "$dir/azurite" --skipApiVersionCheck --loose --silent >"$dir/azurite.log" 2>&1 &
    echo $! >"$dir/azurite.pid"
    wait_for "http://127.0.0.1:$port/" azurite
    echo "export AQUEDUCTS_TEST_AZURE_ENDPOINT=http://127.0.0.1:$port/devstoreaccount1"

    port="$(free_port)"
    "$python" scripts/gcs-emulator.py "$port" >"$dir/gcs.log" 2>&1 &
    echo $! >"$dir/gcs.pid"
    wait_for "http://127.0.0.1:$port/" gcs
    echo "export AQUEDUCTS_TEST_GCS_ENDPOINT=http://127.0.0.1:$port"
    ;;
  stop)
    for name in moto azurite gcs; do
      if [ -f "$dir/$name.pid" ]; then
        kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
        rm -f "$dir/$name.pid"
      fi
    done
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
