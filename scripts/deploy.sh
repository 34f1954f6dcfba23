#!/usr/bin/env bash
# Deploys infra/template.yaml with the stage's parameters (infra/params/<stage>.json)
# using the AWS SAM CLI, pinned and installed into .venv-deploy on first use.
# Needs AWS credentials in the environment (profile, SSO or keys).
set -euo pipefail
cd "$(dirname "$0")/.."
stage="${1:?usage: deploy.sh dev|test|prod}"
params="infra/params/$stage.json"
[ -f "$params" ] || { echo "no parameters for stage $stage ($params)"; exit 2; }
if [ ! -x .venv-deploy/bin/sam ]; then
  echo "==> installing the AWS SAM CLI into .venv-deploy"
  python3 -m venv .venv-deploy
  .venv-deploy/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0
fi
overrides=$(python3 -c 'import json,sys; print(" ".join(f"{k}={v}" for k,v in json.load(open(sys.argv[1])).items()))' "$params")
echo "==> deploying stack psc-$stage"
.venv-deploy/bin/sam deploy --template-file infra/template.yaml --stack-name "psc-$stage" \
  --parameter-overrides $overrides --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --resolve-s3 --no-fail-on-empty-changeset
.venv-deploy/bin/sam list stack-outputs --stack-name "psc-$stage"
