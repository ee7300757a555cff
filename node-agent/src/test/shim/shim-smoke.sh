#!/usr/bin/env bash
# Smoke test for node-agent/src/main/c/berth-shim.c against a real runc.
#
# Needs: root, gcc, runc, a static busybox, and jq or python3.
# Environment overrides: RUNC (default /usr/sbin/runc or runc in PATH),
#                        BUSYBOX (default /usr/bin/busybox), CC (default gcc).
#
# Exits non-zero on the first failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../../main/c" && pwd)/berth-shim.c"
CC="${CC:-gcc}"
BUSYBOX="${BUSYBOX:-/usr/bin/busybox}"
if [[ -z "${RUNC:-}" ]]; then
    if [[ -x /usr/sbin/runc ]]; then RUNC=/usr/sbin/runc; else RUNC="$(command -v runc)"; fi
fi

log()  { printf '[shim-smoke] %s\n' "$*"; }
fail() { printf '[shim-smoke] FAIL: %s\n' "$*" >&2; exit 1; }

[[ "$(id -u)" == 0 ]] || fail "must run as root"
[[ -x "$RUNC" ]] || fail "runc not found ($RUNC)"
[[ -x "$BUSYBOX" ]] || fail "busybox not found ($BUSYBOX)"
command -v "$CC" >/dev/null || fail "$CC not found"
HAVE_PY=0; command -v python3 >/dev/null && HAVE_PY=1
HAVE_JQ=0; command -v jq >/dev/null && HAVE_JQ=1
(( HAVE_PY || HAVE_JQ )) || fail "need jq or python3 to edit config.json"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/berth-shim-smoke.XXXXXX")"
ROOT="$TMP/runc-root"
SHIM="$TMP/berth-shim"
IDS=()
SEQ=0

cleanup() {
    local rc=$? id pidf
    set +e
    for id in "${IDS[@]}"; do
        "$RUNC" --root "$ROOT" delete -f "$id" >/dev/null 2>&1
    done
    for pidf in "$TMP"/state-*/shim.pid; do
        [[ -f "$pidf" ]] || continue
        # only kill it if it is still our shim
        if grep -q berth-shim "/proc/$(cat "$pidf")/cmdline" 2>/dev/null; then
            kill -9 "$(cat "$pidf")" 2>/dev/null
        fi
    done
    [[ -n "${WRAPPER_PID:-}" ]] && kill -9 "$WRAPPER_PID" 2>/dev/null
    rm -rf "$TMP"
    if (( rc == 0 )); then log "ALL PASSED"; else log "FAILED (rc=$rc)"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }

# ------------------------------------------------------------------ build
log "compiling $SRC"
"$CC" -O2 -Wall -Wextra -Werror -o "$SHIM" "$SRC"

# ----------------------------------------------------------------- bundle
BASE="$TMP/base-rootfs"
mkdir -p "$BASE/bin" "$BASE/proc" "$BASE/dev" "$BASE/sys" "$BASE/tmp"
cp "$BUSYBOX" "$BASE/bin/busybox"
for a in sh echo sleep true cat; do ln -s busybox "$BASE/bin/$a"; done

# make_bundle NAME ARG... -> prints the bundle dir
make_bundle() {
    local name="$1"; shift
    local dir="$TMP/bundle-$name"
    mkdir -p "$dir"
    cp -a "$BASE" "$dir/rootfs"
    (cd "$dir" && "$RUNC" spec)
    if (( HAVE_JQ )); then
        # (jq keeps parsing options after --args, so append one at a time)
        local a args_json='[]'
        for a in "$@"; do args_json="$(jq -c --arg a "$a" '. + [$a]' <<<"$args_json")"; done
        jq --argjson a "$args_json" '.process.args = $a | .process.terminal = false' \
            "$dir/config.json" > "$dir/config.json.new"
    else
        python3 - "$dir/config.json" "$@" > "$dir/config.json.new" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = sys.argv[2:]
c["process"]["terminal"] = False
json.dump(c, sys.stdout, indent=2)
EOF
    fi
    mv "$dir/config.json.new" "$dir/config.json"
    echo "$dir"
}

# new_id: sets ID (not usable in $(...): it must update SEQ/IDS here)
new_id() {
    SEQ=$((SEQ + 1))
    ID="berth-smoke-$$-$SEQ"
    IDS+=("$ID")
}

# launch ID BUNDLE STATE -> runs the launcher; sets LAUNCH_RC, LAUNCH_OUT,
# LAUNCH_ERR, LAUNCH_MS
launch() {
    local id="$1" bundle="$2" state="$3" t0 t1
    mkdir -p "$state"
    t0="$(now_ns)"
    set +e
    LAUNCH_OUT="$("$SHIM" --id "$id" --bundle "$bundle" --state "$state" \
        --runtime "$RUNC" --runtime-root "$ROOT" 2>"$state.launcher-stderr")"
    LAUNCH_RC=$?
    set -e
    t1="$(now_ns)"
    LAUNCH_ERR="$(cat "$state.launcher-stderr")"
    LAUNCH_MS=$(( (t1 - t0) / 1000000 ))
}

# start_and_wait ID STATE [NCLIENTS] -> connects NCLIENTS clients to
# shim.sock, runs `runc start`, prints the line every client received (all
# must be identical). Falls back to polling the exit file without python3.
start_and_wait() {
    local id="$1" state="$2" n="${3:-1}"
    if (( HAVE_PY )); then
        python3 - "$state/shim.sock" "$n" "$RUNC" "$ROOT" "$id" <<'EOF'
import socket, subprocess, sys
path, n, runc, root, cid = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)
    socks.append(s)
subprocess.run([runc, "--root", root, "start", cid], check=True)
lines = set()
for s in socks:
    data = b""
    while True:
        d = s.recv(256)
        if not d:
            break
        data += d
    s.close()
    lines.add(data.decode())
if len(lines) != 1:
    sys.exit("clients got different lines: %r" % lines)
sys.stdout.write(lines.pop())
EOF
    else
        "$RUNC" --root "$ROOT" start "$id"
        wait_exit_file "$state"
    fi
}

# wait_socket_line STATE -> (connects, waits for the line) used when the
# container is started/killed separately; runs in background by callers.
wait_exit_file() {
    local state="$1" i
    for i in $(seq 1 600); do
        [[ -f "$state/exit" ]] && { cat "$state/exit"; return 0; }
        sleep 0.1
    done
    fail "no exit file in $state"
}

check_exit_line() { # LINE CODE SIGNAL
    local line="$1" code="$2" sig="$3"
    [[ "$line" =~ ^([0-9]+)\ ([0-9]+)\ ([0-9]{19})$ ]] || fail "bad exit line: '$line'"
    [[ "${BASH_REMATCH[1]}" == "$code" && "${BASH_REMATCH[2]}" == "$sig" ]] \
        || fail "expected exit '$code $sig', got '$line'"
    local ts="${BASH_REMATCH[3]}" now; now="$(now_ns)"
    (( ts <= now && now - ts < 120000000000 )) || fail "exit timestamp $ts not recent (now $now)"
}

# /proc/PID/stat fields after "(comm) " -- empty and status 1 if PID is gone.
# (Processes vanish at any moment: never let a failed read trip set -e.)
proc_stat_tail() {
    local s
    s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ -n "$s" ]] || return 1
    printf '%s\n' "${s##*) }"
}
proc_state() { local t; t="$(proc_stat_tail "$1")" || return 1; printf '%s\n' "${t%% *}"; }
ppid_of() { local t; t="$(proc_stat_tail "$1")" || return 1; t="${t#* }"; printf '%s\n' "${t%% *}"; }

proc_alive() { # PID exists and is not a zombie
    local st
    st="$(proc_state "$1")" || return 1
    [[ "$st" != Z && "$st" != X ]]
}

# no_strays ID STATE [INIT_PID] [SHIM_PID]: waits up to ~10s for everything to
# be gone, then fails if a shim for ID, the init or a related zombie remains.
no_strays() {
    local id="$1" state="$2" init="${3:-}" shim="${4:-}" i bad
    for i in $(seq 1 100); do
        bad=""
        if pgrep -f -- "--id $id " >/dev/null; then bad="shim process for $id still running"; fi
        if [[ -n "$init" ]] && proc_alive "$init"; then bad="container init $init still alive"; fi
        if [[ -n "$shim" ]] && grep -q berth-shim "/proc/$shim/comm" 2>/dev/null; then
            bad="shim $shim still exists (state $(proc_state "$shim" || echo gone))"
        fi
        # zombies of anything this test runs (shim, runc, busybox applets)
        local z
        z="$(ps -eo pid=,ppid=,stat=,comm= | awk '$3 ~ /^Z/ && $4 ~ /^(berth-shim|runc|runc:.*|sh|sleep|busybox|true)$/' || true)"
        if [[ -n "$z" ]]; then bad="zombies: $z"; fi
        [[ -z "$bad" ]] && return 0
        sleep 0.1
    done
    fail "$bad"
}

# shim_fds_ok SHIM_PID: the shim must hold no pipes (agent/launcher pipes)
shim_fds_ok() {
    local p="$1" fds
    fds="$(ls -l "/proc/$p/fd" 2>/dev/null | awk 'NR>1{print $NF}')"
    if grep -q '^pipe:' <<<"$fds"; then fail "shim $p holds pipes: $(tr '\n' ' ' <<<"$fds")"; fi
    [[ "$(readlink "/proc/$p/fd/0")" == /dev/null ]] || fail "shim stdin is not /dev/null"
    [[ "$(readlink "/proc/$p/fd/1")" == /dev/null ]] || fail "shim stdout is not /dev/null"
    [[ "$(readlink "/proc/$p/fd/2")" == /dev/null ]] || fail "shim stderr is not /dev/null"
}

mem_report() { # SHIM_PID
    local p="$1"
    awk -v pid="$p" '/^(Rss|Pss|Pss_Anon|Pss_File|Private_Dirty|Private_Clean|Shared_Clean):/ {printf "%s %s kB  ", $1, $2} END {print ""}' \
        "/proc/$p/smaps_rollup" | sed "s/^/shim $p: /"
    PSS_KB="$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup")"
}

# ================================================================= case 1
log "case 1: exit code, stdout/stderr capture, socket notification"
new_id; ST="$TMP/state-$ID"
B1="$(make_bundle c1 sh -c 'echo hi; echo err >&2; exit 3')"
launch "$ID" "$B1" "$ST"
[[ "$LAUNCH_RC" == 0 ]] || fail "launcher rc=$LAUNCH_RC stderr=$LAUNCH_ERR"
[[ "$LAUNCH_OUT" =~ ^[0-9]+$ ]] || fail "launcher stdout is not a pid: '$LAUNCH_OUT'"
[[ -z "$LAUNCH_ERR" ]] || fail "launcher wrote to stderr: $LAUNCH_ERR"
log "launcher -> pid $LAUNCH_OUT in ${LAUNCH_MS} ms"
INIT="$LAUNCH_OUT"
SHIMPID="$(cat "$ST/shim.pid")"
[[ "$(cat "$ST/init.pid")" == "$INIT" ]] || fail "init.pid mismatch"
[[ -S "$ST/shim.sock" ]] || fail "no shim.sock"
[[ "$(stat -c %a "$ST/shim.sock")" == 600 ]] || fail "shim.sock mode $(stat -c %a "$ST/shim.sock")"
[[ "$(stat -c %a "$ST/stdout.log")" == 640 ]] || fail "stdout.log mode"
proc_alive "$SHIMPID" || fail "shim not running"
[[ "$(ppid_of "$INIT")" == "$SHIMPID" ]] || fail "init's parent is not the shim"
[[ "$(ps -o sid= -p "$SHIMPID" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ]] || fail "shim in our session"
shim_fds_ok "$SHIMPID"
"$RUNC" --root "$ROOT" state "$ID" | grep -q '"status": "created"' || fail "container not in created state"
LINE="$(start_and_wait "$ID" "$ST" 2)"
LINE="${LINE%$'\n'}"
log "socket line: $LINE"
check_exit_line "$LINE" 3 0
[[ -f "$ST/exit" ]] || fail "exit file missing"
[[ "$(cat "$ST/exit")" == "$LINE" ]] || fail "exit file '$(cat "$ST/exit")' != socket line"
[[ ! -e "$ST/exit.tmp" ]] || fail "exit.tmp left behind"
[[ "$(cat "$ST/stdout.log")" == hi ]] || fail "stdout.log = '$(cat "$ST/stdout.log")'"
[[ "$(cat "$ST/stderr.log")" == err ]] || fail "stderr.log = '$(cat "$ST/stderr.log")'"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
[[ ! -e "$ST/shim.sock" ]] || fail "shim.sock not removed"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 1 ok"

# ================================================================= case 2
log "case 2: SIGKILL via runc kill, memory footprint"
new_id; ST="$TMP/state-$ID"
B2="$(make_bundle c2 sleep 300)"
launch "$ID" "$B2" "$ST"
[[ "$LAUNCH_RC" == 0 ]] || fail "launcher rc=$LAUNCH_RC stderr=$LAUNCH_ERR"
log "launcher -> pid $LAUNCH_OUT in ${LAUNCH_MS} ms"
INIT="$LAUNCH_OUT"; SHIMPID="$(cat "$ST/shim.pid")"
"$RUNC" --root "$ROOT" start "$ID"
sleep 0.3
"$RUNC" --root "$ROOT" state "$ID" | grep -q '"status": "running"' || fail "container not running"
mem_report "$SHIMPID"
(( PSS_KB < 1024 )) || fail "shim PSS ${PSS_KB} kB >= 1 MB"
# two clients, connected before the kill
if (( HAVE_PY )); then
    python3 - "$ST/shim.sock" > "$TMP/c2.lines" <<'EOF' &
import socket, sys
socks = []
for _ in range(2):
    s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1]); socks.append(s)
print("connected", flush=True)
for s in socks:
    data = b""
    while True:
        d = s.recv(256)
        if not d: break
        data += d
    sys.stdout.write(data.decode())
EOF
    CPID=$!
    for _ in $(seq 1 100); do grep -q connected "$TMP/c2.lines" 2>/dev/null && break; sleep 0.05; done
fi
"$RUNC" --root "$ROOT" kill "$ID" KILL
if (( HAVE_PY )); then
    wait "$CPID" || fail "socket clients failed"
    [[ "$(grep -vc connected "$TMP/c2.lines")" == 2 ]] || fail "expected 2 lines: $(cat "$TMP/c2.lines")"
    LINE="$(grep -v connected "$TMP/c2.lines" | head -1)"
    [[ "$(grep -v connected "$TMP/c2.lines" | sort -u | wc -l)" == 1 ]] || fail "clients got different lines"
else
    LINE="$(wait_exit_file "$ST")"
fi
log "socket line: $LINE"
check_exit_line "$LINE" 137 9
wait_exit_file "$ST" >/dev/null
[[ "$(cat "$ST/exit")" == "$LINE" ]] || fail "exit file differs"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 2 ok"

# ================================================================= case 3
log "case 3: launcher's parent (the 'agent') is SIGKILLed; shim still reports"
new_id; ST="$TMP/state-$ID"; mkdir -p "$ST"
B3="$(make_bundle c3 sh -c 'echo later; exit 7')"
# The wrapper plays the agent: it runs the launcher, then lingers until killed.
bash -c '"$1" --id "$2" --bundle "$3" --state "$4" --runtime "$5" --runtime-root "$6" > "$7.tmp" 2>&1 \
         && mv "$7.tmp" "$7"; exec sleep 1000' \
    _ "$SHIM" "$ID" "$B3" "$ST" "$RUNC" "$ROOT" "$TMP/c3.out" &
WRAPPER_PID=$!
for _ in $(seq 1 200); do [[ -s "$TMP/c3.out" ]] && break; sleep 0.05; done
[[ -s "$TMP/c3.out" ]] || fail "launcher in wrapper did not report a pid"
INIT="$(cat "$TMP/c3.out")"; SHIMPID="$(cat "$ST/shim.pid")"
kill -9 "$WRAPPER_PID"; wait "$WRAPPER_PID" 2>/dev/null || true
log "killed agent stand-in $WRAPPER_PID; shim $SHIMPID ppid=$(ppid_of "$SHIMPID")"
unset WRAPPER_PID
sleep 0.2
proc_alive "$SHIMPID" || fail "shim died with its launcher's parent"
proc_alive "$INIT" || fail "container init died with its launcher's parent"
shim_fds_ok "$SHIMPID"
LINE="$(start_and_wait "$ID" "$ST")"; LINE="${LINE%$'\n'}"
log "socket line: $LINE"
check_exit_line "$LINE" 7 0
[[ "$(cat "$ST/stdout.log")" == later ]] || fail "stdout.log = '$(cat "$ST/stdout.log")'"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 3 ok"

# ================================================================= case 4
log "case 4: runc create failure is reported, nothing is left behind"
new_id; ST="$TMP/state-$ID"
B4="$(make_bundle c4 /nope)"
launch "$ID" "$B4" "$ST"
log "launcher rc=$LAUNCH_RC in ${LAUNCH_MS} ms, stderr: $LAUNCH_ERR"
[[ "$LAUNCH_RC" == 1 ]] || fail "expected launcher rc 1, got $LAUNCH_RC"
[[ -z "$LAUNCH_OUT" ]] || fail "launcher printed to stdout: $LAUNCH_OUT"
[[ "$(wc -l <<<"$LAUNCH_ERR")" == 1 ]] || fail "stderr is not one line"
[[ "$LAUNCH_ERR" == "runc create failed: "* ]] || fail "bad message prefix: $LAUNCH_ERR"
[[ "$LAUNCH_ERR" != "runc create failed: runc create failed: "* ]] || fail "doubled prefix"
grep -q '/nope' <<<"$LAUNCH_ERR" || fail "message does not mention /nope: $LAUNCH_ERR"
[[ ! -e "$ST/shim.sock" && ! -e "$ST/shim.pid" && ! -e "$ST/exit" ]] || fail "state files left: $(ls "$ST")"
no_strays "$ID" "$ST"
if "$RUNC" --root "$ROOT" state "$ID" >/dev/null 2>&1; then fail "runc still knows $ID"; fi

# a runtime that cannot be executed at all
new_id; ST="$TMP/state-$ID"; mkdir -p "$ST"
set +e
ERR="$("$SHIM" --id "$ID" --bundle "$B1" --state "$ST" --runtime "$TMP/no-such-runc" \
        --runtime-root "$ROOT" 2>&1 >/dev/null)"; RC=$?
set -e
log "missing runtime: rc=$RC stderr: $ERR"
[[ "$RC" == 1 && "$ERR" == "runc create failed: "*no-such-runc* ]] || fail "missing runtime not reported"
no_strays "$ID" "$ST"
log "case 4 ok"

# ================================================================= case 5
log "case 5: global check for leftovers"
for id in "${IDS[@]}"; do
    if pgrep -f -- "--id $id " >/dev/null; then fail "shim for $id still running"; fi
done
Z="$(ps -eo pid=,ppid=,stat=,comm= | awk '$3 ~ /^Z/ && $4 ~ /^(berth-shim|runc|runc:.*|sh|sleep|busybox|true)$/')"
[[ -z "$Z" ]] || fail "zombies: $Z"
LEFT="$("$RUNC" --root "$ROOT" list -q 2>/dev/null || true)"
[[ -z "$LEFT" ]] || fail "containers left: $LEFT"
log "case 5 ok"
