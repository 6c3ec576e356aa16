#!/usr/bin/env bash
# Installers of the test tools (pinned where a registry has versions), sourced by the scripts that need them. Each installs only when the tool is
# missing or at another version, and fails (set -e in the caller) when it cannot install: no check is skipped.

# pip_pinned VENV NAME==VERSION...: installs the packages into VENV unless each is there at exactly VERSION.
pip_pinned() {
  local venv="$1"
  shift
  if ! "$venv/bin/python" - "$@" 2>/dev/null <<'PY'
import importlib.metadata as m, sys
sys.exit(any(m.version(n) != v for n, v in (a.split("==", 1) for a in sys.argv[1:])))
PY
  then
    echo "orgscan: installing $* into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  fi
}

# venv_pinned NAME==VERSION...: the project's virtual environment .venv, made (once) by scripts/moto-env.sh,
# with these packages at exactly these versions.
venv_pinned() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  bash "$root/scripts/moto-env.sh"
  pip_pinned "$root/.venv" "$@"
}

# npm_pinned DIR PACKAGE VERSION: installs PACKAGE@VERSION into DIR/node_modules unless it is there at that
# version. --ignore-scripts: no package these scripts install needs its install scripts.
npm_pinned() {
  local dir="$1" pkg="$2" version="$3" installed
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "orgscan: error: $pkg (npm) needs npm and node" >&2
    return 1
  fi
  installed="$(node -p "require('$dir/node_modules/$pkg/package.json').version" 2>/dev/null || true)"
  if [[ "$installed" != "$version" ]]; then
    echo "orgscan: installing $pkg@$version (npm) into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "$pkg@$version" >&2
  fi
}

# apt_install PACKAGE...: installs the Debian PACKAGEs with apt-get, as root (`apt-get update` only when the
# install fails without it). Not root, or no install: an error naming the packages.
apt_install() {
  if [[ "$(id -u)" != "0" ]]; then
    echo "orgscan: error: $* not installed (apt-get install $*)" >&2
    return 1
  fi
  echo "orgscan: installing $* (Debian packages)" >&2
  (apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null; }) \
    || { echo "orgscan: error: cannot install $*" >&2; return 1; }
}
