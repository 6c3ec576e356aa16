#!/usr/bin/env bash
# The one test command: installs the pinned moto server (once), starts it on a free loopback port, runs the
# whole Rust test suite against it, and always stops it. Works from a fresh clone with the Rust toolchain
# and Python 3. Extra arguments go to the test runner (e.g. scripts/test.sh this_account).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/moto-env.sh

# shellcheck source=scripts/moto-start.sh
source scripts/moto-start.sh
trap moto_stop EXIT INT TERM
moto_start

export ORGSCAN_TEST_ENDPOINT="$MOTO_ENDPOINT"
# Never let the developer's own AWS configuration leak into the tests.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL
export AWS_EC2_METADATA_DISABLED=true

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --all-targets --no-fail-fast "$@"
else
  cargo test --all-targets --no-fail-fast "$@"
fi
