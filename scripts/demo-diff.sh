#!/usr/bin/env bash
# Compares the demo's outputs of two builds of orgscan, for a refactor that must not change them.
#
#   scripts/demo-diff.sh OLD_BIN NEW_BIN OUT
#
# OLD_BIN and NEW_BIN are directories holding an `orgscan` and a `demo_seed` binary (from target/debug and
# target/debug/examples of each build; an older revision builds in a worktree: `git worktree add ../old REV`,
# then `cargo build --example demo_seed --bin orgscan` there and copy the two binaries). It seeds one moto demo
# organization as scripts/demo.sh does, runs the demo's scan (every output) and `orgscan fix` with both builds
# against that same state (moto's ids differ between organizations, not between runs), then diffs every output
# with times and durations normalized. The Parquet files are binary and not compared. Exit 0: identical.
set -euo pipefail
old="$(cd "$1" && pwd)"; new="$(cd "$2" && pwd)"; mkdir -p "$3"; out="$(cd "$3" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/moto-env.sh >/dev/null
# shellcheck source=scripts/moto-start.sh
source scripts/moto-start.sh
trap moto_stop EXIT INT TERM
MOTO_LOG="$out/moto.log" moto_start
regions="eu-west-1,us-east-1"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$MOTO_ENDPOINT"
eval "$("$new/demo_seed" "$MOTO_ENDPOINT" 4 "$regions")"
for side in old new; do
  bin="${!side}"; d="$out/$side"; rm -rf "$d"; mkdir -p "$d"
  set +e
  "$bin/orgscan" scan --regions "$regions" --json "$d/report.json" --sarif "$d/orgscan.sarif" --asff-dir "$d/asff" \
    --html "$d/report.html" --ocsf "$d/orgscan.ocsf.jsonl" --ocsf-dir "$d/security-lake" >"$d/stdout.txt" 2>"$d/stderr.txt"
  echo "exit $?" >"$d/exit.txt"
  "$bin/orgscan" fix --from "$d/report.json" --journal "$d/fix-journal.jsonl" >"$d/fix-plan.txt" 2>&1
  set -e
done
# Times (RFC 3339, the HTML's "YYYY-MM-DD HH:MM:SS UTC", OCSF epoch milliseconds), durations and the outputs' own paths.
norm() {
  sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z/T/g' -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC/T/g' \
    -e 's/"([a-z_]*time|duration_ms|walk_ms)": ?[0-9]+/"\1":N/g' -e 's/[0-9]+(\.[0-9]+)? ?(ms|s)\b/Ns/g' -e "s#$out/(old|new)#OUT#g"
}
rc=0
while IFS= read -r f; do
  if ! diff <(norm <"$out/old/$f") <(norm <"$out/new/$f") >"$out/diff.part"; then
    echo "DIFFERS: $f"; head -20 "$out/diff.part"; rc=1
  fi
done < <(cd "$out/new" && find . -type f ! -path './security-lake/*' | sort)
echo "not compared: $(cd "$out/new" && find ./security-lake -type f | wc -l) Parquet file(s)"
exit "$rc"
