# Shared by the CLI journeys: a node agent on its own directories, berth, and checks that count.
# Source it; then call start_agent. Needs the dev registry (deploy/dev-services.sh up).
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd -P)"
registry="${BERTH_REGISTRY:-127.0.0.1:5000}"
image="$registry/test/busybox:latest"
. "$repo/deploy/lib/dev-credentials.sh"  # registry_curl: the dev registry lets only its account in
work="$(mktemp -d /tmp/bce.XXXX)"
export BERTH_ADDRESS="$work/agent.sock" BERTH_NAMESPACE=e2e
fails=0; passes=0
agent_pid=""
cleanup() {
  [[ -n "$agent_pid" ]] && kill "$agent_pid" 2>/dev/null; wait 2>/dev/null
  for rt in runc crun; do
    for c in $($rt --root "$work/state/$rt/e2e" list -q 2>/dev/null); do $rt --root "$work/state/$rt/e2e" delete -f "$c" >/dev/null 2>&1; done
  done
  for p in $(pgrep -f "berth-shim --id .* --state $work/" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  grep -F " $work/" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
berth() { "$repo/bin/berth" "$@"; }
check() { # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then passes=$((passes+1)); echo "ok   $1";
  else fails=$((fails+1)); echo "FAIL $1: expected [$2], got [$3]"; fi
}
contains() { # contains NAME NEEDLE HAYSTACK
  if [[ "$3" == *"$2"* ]]; then passes=$((passes+1)); echo "ok   $1";
  else fails=$((fails+1)); echo "FAIL $1: [$2] not in [$3]"; fi
}
# start_agent [ENV=VALUE...]: starts the agent (extra settings as environment) and waits for its socket
start_agent() {
  registry_curl -sf "http://$registry/v2/" >/dev/null || { echo "e2e: no registry at $registry (or it refuses the dev account): run deploy/dev-services.sh up" >&2; exit 1; }
  rm -f "$work/agent.sock"
  env BERTH_ROOT="$work/root" BERTH_STATE="$work/state" BERTH_SOCKET="$work/agent.sock" BERTH_AGENT_HTTP_PORT=0 "$@" \
    "$repo/bin/berth-agent" >>"$work/agent.log" 2>&1 &
  agent_pid=$!
  for _ in $(seq 1 150); do [[ -S "$work/agent.sock" ]] && break; sleep 0.1; done
  [[ -S "$work/agent.sock" ]] || { echo "agent did not start:"; cat "$work/agent.log"; exit 1; }
}
finish() {
  echo "$passes passed, $fails failed"
  [[ $fails == 0 ]]
}
