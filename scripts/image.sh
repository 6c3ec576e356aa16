#!/usr/bin/env bash
# Builds the orgscan release image (Containerfile: FROM scratch, the binary, the shared libraries it links,
# the CA certificates) with buildah, without a container daemon.
#
#   scripts/image.sh [--binary PATH] [--tag NAME:TAG] [--version V] [--context-only DIR]
#
# --binary        the orgscan binary to put in the image (default: cargo build --release --locked, then
#                 target/release/orgscan)
# --tag           the image name (default: localhost/orgscan:<version>)
# --version       the image's version label (default: the crate's version)
# --context-only  prepare the build context in DIR and stop (for docker build / podman build:
#                 `docker build -f Containerfile DIR`)
#
# Installs buildah (Debian's package, with apt-get, as root) when it is missing, and, when the machine has no
# /etc/containers/containers.conf, writes one whose default ulimits fit the machine's hard limits:
# containers.conf's built-in defaults can be above them, and `buildah run` then fails with
# `setting "RLIMIT_NPROC" limit ... operation not permitted`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="" tag="" version="" context_only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --context-only) context_only="$2"; shift 2 ;;
    *) echo "orgscan image: unknown argument '$1'; allowed: --binary PATH, --tag NAME:TAG, --version V, --context-only DIR" >&2; exit 2 ;;
  esac
done
if [[ -z "$version" ]]; then
  version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)"
fi
tag="${tag:-localhost/orgscan:$version}"
if [[ -z "$binary" ]]; then
  (cd "$root" && cargo build --release --locked)
  binary="$root/target/release/orgscan"
fi
if [[ ! -x "$binary" ]]; then
  echo "orgscan image: error: '$binary' is not an executable file" >&2
  exit 2
fi
certs=/etc/ssl/certs/ca-certificates.crt
if [[ ! -s "$certs" ]]; then
  echo "orgscan image: error: $certs is missing (Debian/Ubuntu: apt-get install ca-certificates)" >&2
  exit 1
fi

# The context: the binary, and under rootfs/ every library ldd names (resolved through symlinks, kept at the
# path ldd gives, which is where the dynamic loader looks) and the CA bundle.
if [[ -n "$context_only" ]]; then
  context="$context_only"
  mkdir -p "$context"
else
  context="$(mktemp -d)"
  trap 'rm -rf "$context"' EXIT
fi
rm -rf "$context/rootfs" "$context/orgscan"
mkdir -p "$context/rootfs/etc/ssl/certs"
cp "$binary" "$context/orgscan"
chmod 0755 "$context/orgscan"
# Symbols are of no use in the image (the release profile keeps no debug info, but the symbol table).
if command -v strip >/dev/null; then
  strip --strip-all "$context/orgscan"
else
  echo "orgscan image: warning: strip (binutils) is not installed: the binary keeps its symbol table" >&2
fi
cp -L "$certs" "$context/rootfs/etc/ssl/certs/ca-certificates.crt"
libs=0
while read -r line; do
  # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)",
  # "linux-vdso.so.1 (0x...)" (in the kernel: nothing to copy), "libfoo.so => not found" (an error).
  if [[ "$line" == *"not found"* ]]; then
    echo "orgscan image: error: ldd $binary: $line" >&2
    exit 1
  fi
  path=""
  if [[ "$line" == *" => /"* ]]; then
    path="${line#* => }"
    path="${path%% (*}"
  elif [[ "$line" == /* ]]; then
    path="${line%% (*}"
  fi
  [[ -n "$path" ]] || continue
  mkdir -p "$context/rootfs$(dirname "$path")"
  cp -L "$path" "$context/rootfs$path"
  libs=$((libs + 1))
done < <(ldd "$binary")
if [[ "$libs" -eq 0 ]]; then
  echo "orgscan image: error: ldd names no library for $binary (a static binary needs no rootfs libraries, but this script expects glibc's)" >&2
  exit 1
fi
cp "$root/Containerfile" "$context/Containerfile"
echo "orgscan image: context in $context ($libs libraries from ldd, the CA bundle, the binary)" >&2
if [[ -n "$context_only" ]]; then
  exit 0
fi

# shellcheck source=scripts/pinned.sh
source "$root/scripts/pinned.sh"
command -v buildah >/dev/null || apt_install buildah
# buildah run (the tests run the image with it) applies containers.conf's default ulimits; where the machine's
# hard limits are lower, the container cannot start. Written only when the machine has no containers.conf:
# never above the machine's hard limits, nor above the process limit buildah itself runs with (32768).
conf=/etc/containers/containers.conf
if [[ ! -e "$conf" && "$(id -u)" == "0" ]]; then
  hn="$(ulimit -Hn)" hu="$(ulimit -Hu)"
  [[ "$hn" == unlimited || "$hn" -gt 1048576 ]] && hn=1048576
  [[ "$hu" == unlimited || "$hu" -gt 32768 ]] && hu=32768
  mkdir -p /etc/containers
  printf '# Written by orgscan scripts/image.sh: default ulimits within this machine'"'"'s hard limits.\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
    "$hn" "$hn" "$hu" "$hu" >"$conf.tmp"
  mv "$conf.tmp" "$conf"
  echo "orgscan image: wrote $conf (nofile=$hn, nproc=$hu)" >&2
fi
buildah bud --isolation chroot --quiet --build-arg "VERSION=$version" -f "$context/Containerfile" -t "$tag" "$context" >/dev/null
echo "orgscan image: built $tag" >&2
echo "$tag"
