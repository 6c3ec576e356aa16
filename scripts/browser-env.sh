#!/usr/bin/env bash
# Installs (once) what the HTML report's browser tests need: Debian's chromium and chromium-driver (major
# version pinned below), and selenium (pinned) in the project's virtual environment. Sourced by
# scripts/test.sh after scripts/moto-env.sh. A browser that cannot be installed fails the test script.
set -euo pipefail
CHROMIUM_MAJOR="148"
SELENIUM_VERSION="4.38.0"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
# shellcheck source=scripts/pinned.sh
source "$root/scripts/pinned.sh"
major() { "$1" --version 2>/dev/null | grep -oE '[0-9]+' | head -1; }
if [[ "$(major /usr/bin/chromium)" != "$CHROMIUM_MAJOR" || "$(major /usr/bin/chromedriver)" != "$CHROMIUM_MAJOR" ]]; then
  if [[ "$(id -u)" != "0" ]]; then
    echo "orgscan: error: the browser tests need chromium and chromium-driver $CHROMIUM_MAJOR (apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
  apt_install chromium chromium-driver
  for b in /usr/bin/chromium /usr/bin/chromedriver; do
    if [[ "$(major "$b")" != "$CHROMIUM_MAJOR" ]]; then
      echo "orgscan: error: $b is version $(major "$b"), the tests are pinned to $CHROMIUM_MAJOR: update CHROMIUM_MAJOR in scripts/browser-env.sh after checking the tests pass" >&2
      exit 1
    fi
  done
fi
pip_pinned "$venv" "selenium==$SELENIUM_VERSION"
export ORGSCAN_BROWSER_PYTHON="$venv/bin/python"
