# Shared by the bench scripts: a Berth agent and a containerd 1.6, each on its own directories under
# $work, started and torn down within one run so their figures come from the same machine state.
# Callers set: repo, work. They get: berth_socket, ctrd_socket, and functions below.

# the dev registry's account: every client logs in (deploy/lib/dev-credentials.sh)
. "$repo/deploy/lib/dev-credentials.sh"

bench_prepare() {
  "$repo/deploy/install-packages.sh"
  [[ -f "$repo/bench/target/berth-bench.jar" && -f "$repo/node-agent/target/quarkus-app/quarkus-run.jar" && -f "$repo/cli/target/berth-cli.jar" ]] \
    || (cd "$repo" && mvn -q -B install -Dmaven.test.skip=true)
  registry_curl -sf -H "Accept: application/vnd.oci.image.manifest.v1+json" \
    "http://${BERTH_REGISTRY:-127.0.0.1:5000}/v2/test/big/manifests/latest" -o /dev/null \
    || "$repo/deploy/dev-services.sh" up >/dev/null
  trap bench_cleanup EXIT
}

# wait_socket PATH LOG START_NS: up to 15 s for a daemon's socket, its log on failure; sets up_secs, the seconds from
# START_NS (the daemon's launch) until the socket appeared (both daemons bind and listen at once)
wait_socket() {
  for _ in $(seq 1 3000); do [[ -S "$1" ]] && { up_secs=$(secs_since "$3"); return 0; }; sleep 0.005; done
  cat "$2" >&2; return 1
}

# state_tmpfs DIR: DIR on a tmpfs, as /run (where both containerd's and Berth's state live by default) is on a
# real host; this sandbox's /run is plain disk, where creating the dozen short-lived files of each container costs
# more than the rest of the work
state_tmpfs() {
  mkdir -p "$1"
  mount -t tmpfs -o mode=0711,size=512m tmpfs "$1"
}

# start_berth NAME: an agent with root under $work/NAME and its state on a tmpfs there
start_berth() {
  local d="$work/$1"
  mkdir -p "$d"
  state_tmpfs "$d/state"
  local t; t=$(now_ns)
  BERTH_ROOT="$d/root" BERTH_STATE="$d/state" BERTH_SOCKET="$d/agent.sock" BERTH_AGENT_HTTP_PORT=0 \
    "$repo/bin/berth-agent" >"$d/agent.log" 2>&1 &
  echo $! >"$d/agent.pid"
  wait_socket "$d/agent.sock" "$d/agent.log" "$t"
  berth_socket="$d/agent.sock"
}

stop_berth() {
  local d="$work/$1"
  if [[ -f "$d/agent.pid" ]]; then kill "$(cat "$d/agent.pid")" 2>/dev/null; wait "$(cat "$d/agent.pid")" 2>/dev/null || true; fi
  rm -f "$d/agent.pid"
  return 0
}

berth() { BERTH_ADDRESS="$berth_socket" BERTH_NAMESPACE=bench "$repo/bin/berth" "$@"; }

# start_containerd NAME: containerd from Debian on its own root, state (a tmpfs) and socket; CRI off (ctr does not use it)
start_containerd() {
  local d="$work/$1"
  mkdir -p "$d"
  state_tmpfs "$d/state"
  cat >"$d/config.toml" <<TOML
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
TOML
  local t; t=$(now_ns)
  containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
  echo $! >"$d/containerd.pid"
  wait_socket "$d/containerd.sock" "$d/containerd.log" "$t"
  ctrd_socket="$d/containerd.sock"
}

stop_containerd() {
  local d="$work/$1"
  if [[ -f "$d/containerd.pid" ]]; then kill "$(cat "$d/containerd.pid")" 2>/dev/null; wait "$(cat "$d/containerd.pid")" 2>/dev/null || true; fi
  rm -f "$d/containerd.pid"
  return 0
}

# ctr, on the bench's containerd; its pulls log in to the dev registry
ctr() {
  if [[ "${1:-} ${2:-}" == "images pull" && -n "$(registry_userpass)" ]]; then set -- images pull --user "$(registry_userpass)" "${@:3}"; fi
  command ctr --address "$ctrd_socket" --namespace bench "$@"
}

bench_cleanup() {
  # a process may be gone already (the client ends at end of its input): a failed kill must not end the cleanup
  for p in "$work"/*/agent.pid "$work"/*/containerd.pid "$work"/client.pid; do [[ -f "$p" ]] && { kill "$(cat "$p")" 2>/dev/null || true; }; done
  wait 2>/dev/null || true
  grep -F " $work/" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$work"
}

now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN {printf "%.4f\n", (b-a)/1e9}'; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.4f", m}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
