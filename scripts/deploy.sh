#!/usr/bin/env bash
# Deploys infra/template.yaml with the stage's parameters (infra/params/<stage>.json)
# using the AWS SAM CLI, pinned and installed into .venv-deploy on first use.
#
#   scripts/deploy.sh <stage> [Key=Value ...]   deploy (extra pairs override the file)
#   scripts/deploy.sh --delete <stage>          delete the stack (retained tables stay)
#
# Needs the functions built (make build; `make deploy` does it), AWS
# credentials (profile, SSO or keys) and a region (AWS_REGION,
# AWS_DEFAULT_REGION or the profile's). With AWS_ENDPOINT_URL set it deploys
# to that emulator (the deploy rehearsal of `make test` does) instead of AWS.
set -euo pipefail
cd "$(dirname "$0")/.."

delete=""
if [ "${1:-}" = "--delete" ]; then delete=1; shift; fi
stage="${1:?usage: deploy.sh [--delete] dev|test|prod [Key=Value ...]}"
shift
params="infra/params/$stage.json"
[ -f "$params" ] || { echo "no parameters for stage $stage ($params)"; exit 2; }
stack="${STACK_NAME:-psc-$stage}"

if [ ! -x .venv-deploy/bin/sam ]; then
  echo "==> installing the AWS SAM CLI into .venv-deploy"
  python3 -m venv .venv-deploy
  .venv-deploy/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0
fi
# The SAM CLI (boto3) reads AWS_DEFAULT_REGION, not AWS_REGION.
if [ -n "${AWS_REGION:-}" ]; then export AWS_DEFAULT_REGION="$AWS_REGION"; fi
region=$(.venv-deploy/bin/python -c 'import boto3; print(boto3.session.Session().region_name or "")')
[ -n "$region" ] || { echo "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)"; exit 2; }
export SAM_CLI_TELEMETRY=0

if [ -n "$delete" ]; then
  echo "==> deleting stack $stack in $region (tables with DeletionPolicy Retain stay)"
  .venv-deploy/bin/sam delete --stack-name "$stack" --region "$region" --no-prompts
  exit 0
fi

# The stage's parameters, then the command line's. One Key="Value" argument
# per parameter: the SAM CLI refuses a bare Key= (an empty value) and cuts
# an unquoted value at its first space.
overrides=()
while IFS= read -r -d '' kv; do overrides+=("$kv"); done < <(.venv-deploy/bin/python - "$params" "$@" <<'PY'
import json, sys
values = json.load(open(sys.argv[1]))
for pair in sys.argv[2:]:
    key, sep, value = pair.partition("=")
    if not sep or not key:
        sys.exit(f"not a Key=Value pair: {pair}")
    values[key] = value
for k, v in values.items():
    v = str(v)
    if '"' in v or v.endswith("\\"):
        sys.exit(f"parameter {k}: a value may not hold a double quote or end in a backslash")
    sys.stdout.write(f'{k}="{v}"\0')
PY
)
[ ${#overrides[@]} -gt 0 ] || { echo "no parameters read from $params"; exit 2; }

echo "==> checking the account before deploying (scripts/preflight.py)"
.venv-deploy/bin/python scripts/preflight.py "$region" "${overrides[@]}"

echo "==> deploying stack $stack to $region"
.venv-deploy/bin/sam deploy --template-file infra/template.yaml --stack-name "$stack" --region "$region" \
  --parameter-overrides "${overrides[@]}" --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --resolve-s3 --no-fail-on-empty-changeset
.venv-deploy/bin/sam list stack-outputs --stack-name "$stack" --region "$region"
