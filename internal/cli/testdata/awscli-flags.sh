#!/usr/bin/env bash
# Regenerates awscli-flags.txt from the installed AWS CLI (v1).
set -euo pipefail
cd "$(dirname "$0")"
cmds=$(sed -n 's/^\([a-z-]*\):.*/\1/p' awscli-flags.txt)
{
  echo "# The options each command has in the AWS CLI's synopsis (\`aws rds <command> help\`),"
  echo "# minus the global ones. Regenerate with internal/cli/testdata/awscli-flags.sh."
  for c in $cmds; do
    flags=$(aws rds "$c" help 2>/dev/null | col -b | sed -n '/^SYNOPSIS/,/^OPTIONS/p' |
      grep -o -- '--[a-z0-9-]*' | grep -v -- '--cli-\|--generate-cli' | sed -n '1,/^--debug$/p' | grep -v '^--debug$' | tr '\n' ' ')
    echo "$c: ${flags% }"
  done
} > awscli-flags.txt.new
mv awscli-flags.txt.new awscli-flags.txt
