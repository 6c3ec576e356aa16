#!/usr/bin/env bash
# The quick start: runs a full organization scan against a local demo organization (moto), seeded with
# passing and failing resources of all five checks. Reports are left in demo-out/.
# Needs only the Rust toolchain and Python 3; nothing touches a real AWS account.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/moto-env.sh

# shellcheck source=scripts/moto-start.sh
source scripts/moto-start.sh
trap moto_stop EXIT INT TERM
MOTO_LOG="$root/target/moto-demo.log" moto_start

regions="eu-west-1,us-east-1"
echo "orgscan demo: building (the first build of the AWS SDK crates takes several minutes)..." >&2
cargo build --quiet --example demo_seed --bin orgscan
# The demo never uses your own AWS configuration.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$MOTO_ENDPOINT"
eval "$(target/debug/examples/demo_seed "$MOTO_ENDPOINT" 4 "$regions")"

mkdir -p demo-out
set +e
target/debug/orgscan scan --regions "$regions" --json demo-out/report.json --sarif demo-out/orgscan.sarif --asff-dir demo-out/asff \
  --html demo-out/report.html --ocsf demo-out/orgscan.ocsf.jsonl --ocsf-dir demo-out/security-lake "$@"
code=$?
set -e
echo
echo "orgscan exited with $code (1 = failing resources found, as the demo estate intends). Reports: $root/demo-out/" >&2
# What `orgscan fix` would do about them: the plan only (without --apply nothing is changed).
if [[ -f demo-out/report.json ]]; then
  target/debug/orgscan fix --from demo-out/report.json --journal demo-out/fix-journal.jsonl >demo-out/fix-plan.txt || true
  echo "The fix plan (nothing was changed): demo-out/fix-plan.txt" >&2
fi
ls -1 demo-out >&2
