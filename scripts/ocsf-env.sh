#!/usr/bin/env bash
# Installs (once) the pinned OCSF validators into the project's virtual environment (made by moto-env.sh):
# py-ocsf-models, the OCSF models Prowler's OCSF output is built on, which validates every event of
# `--ocsf`, and pyarrow, which reads the `--ocsf-dir` Parquet files back (tests/integration/ocsf.rs).
# Called by scripts/test.sh; a validator that cannot be installed fails it: no check is skipped.
set -euo pipefail
PY_OCSF_MODELS_VERSION="0.10.0"
PYARROW_VERSION="26.0.1"
# shellcheck source=scripts/pinned.sh
source "$(dirname "${BASH_SOURCE[0]}")/pinned.sh"
venv_pinned "py-ocsf-models==$PY_OCSF_MODELS_VERSION" "pyarrow==$PYARROW_VERSION"
