#!/usr/bin/env bash
# A first session with teal through the AWS CLI (`aws --endpoint-url … rds …`).
# Run by test/e2e/clients_test.go against a real `teal serve`; the endpoint
# comes from TEAL_ENDPOINT and the credentials from the usual AWS variables.
set -euo pipefail

aws_rds() { aws --endpoint-url "$TEAL_ENDPOINT" --region us-east-1 rds "$@"; }
fail() { echo "awscli: FAIL: $*" >&2; exit 1; }
step() { echo "awscli: $*"; }

name=cli-db
step "create"
status=$(aws_rds create-db-instance --db-instance-identifier "$name" --engine postgres \
  --engine-version 15 --db-instance-class db.t3.micro --allocated-storage 20 \
  --master-username master --master-user-password secret-pass-1 --db-name app \
  --tags Key=env,Value=cli --query DBInstance.DBInstanceStatus --output text)
[ "$status" = creating ] || fail "create answered status $status"

step "wait db-instance-available"
aws_rds wait db-instance-available --db-instance-identifier "$name"
read -r status port < <(aws_rds describe-db-instances --db-instance-identifier "$name" \
  --query 'DBInstances[0].[DBInstanceStatus,Endpoint.Port]' --output text)
[ "$status" = available ] || fail "status $status after wait"
[ "$port" -gt 0 ] || fail "endpoint port $port"

step "missing instance"
if out=$(aws_rds describe-db-instances --db-instance-identifier no-such-db 2>&1); then
  fail "describe of a missing instance succeeded"
fi
grep -q DBInstanceNotFound <<<"$out" || fail "missing instance error: $out"

step "tags"
arn=$(aws_rds describe-db-instances --db-instance-identifier "$name" --query 'DBInstances[0].DBInstanceArn' --output text)
tag=$(aws_rds list-tags-for-resource --resource-name "$arn" --query 'TagList[?Key==`env`].Value' --output text)
[ "$tag" = cli ] || fail "tag env=$tag"

step "delete and wait db-instance-deleted"
aws_rds delete-db-instance --db-instance-identifier "$name" --skip-final-snapshot >/dev/null
aws_rds wait db-instance-deleted --db-instance-identifier "$name"
count=$(aws_rds describe-db-instances --query 'length(DBInstances)' --output text)
[ "$count" = 0 ] || fail "$count instances left"
echo "awscli: ok"
