#!/usr/bin/env bash
# Smoke test for node-agent/src/main/c/berth-shim.c against a real runc.
#
# Needs: root, gcc, runc, a static busybox and python3 (installed with apt-get
# when missing; it drives shim-client.py, the test client of the control
# socket, and edits config.json when jq is missing).
# Environment overrides: RUNC (default /usr/sbin/runc or runc in PATH),
#                        BUSYBOX (default /usr/bin/busybox), CC (default gcc),
#                        PYTHON (default /usr/bin/python3 or python3 in PATH).
#
# Exits non-zero on the first failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../../main/c" && pwd)/berth-shim.c"
CLIENT="$HERE/shim-client.py"
CC="${CC:-gcc}"
BUSYBOX="${BUSYBOX:-/usr/bin/busybox}"
if [[ -z "${RUNC:-}" ]]; then
    if [[ -x /usr/sbin/runc ]]; then RUNC=/usr/sbin/runc; else RUNC="$(command -v runc)"; fi
fi

CHECKS=0
log()  { printf '[shim-smoke] %s\n' "$*"; }
fail() { printf '[shim-smoke] FAIL: %s\n' "$*" >&2; exit 1; }
pass() { CHECKS=$((CHECKS + 1)); }   # usage: [[ cond ]] && pass || fail "why"

[[ "$(id -u)" == 0 ]] || fail "must run as root"
[[ -x "$RUNC" ]] || fail "runc not found ($RUNC)"
[[ -x "$BUSYBOX" ]] || fail "busybox not found ($BUSYBOX)"
command -v "$CC" >/dev/null || fail "$CC not found"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x /usr/bin/python3 ]]; then
        PYTHON=/usr/bin/python3
    elif command -v python3 >/dev/null; then
        PYTHON="$(command -v python3)"
    else
        log "installing python3"
        apt-get install -y python3 >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y python3 >/dev/null 2>&1; } \
            || fail "python3 missing and apt-get install python3 failed"
        PYTHON=/usr/bin/python3
    fi
fi
"$PYTHON" -c 'import json, socket, struct' || fail "$PYTHON does not work"
HAVE_JQ=0; command -v jq >/dev/null && HAVE_JQ=1

TMP="$(mktemp -d "${TMPDIR:-/tmp}/berth-shim-smoke.XXXXXX")"
ROOT="$TMP/runc-root"
SHIM="$TMP/berth-shim"
IDS=()
SHIM_PIDS=()
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
    if (( rc == 0 )); then log "ALL PASSED ($CHECKS checks)"; else log "FAILED (rc=$rc) after $CHECKS checks passed"; fi
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
for a in sh echo sleep true cat seq head tr tty stty test; do ln -s busybox "$BASE/bin/$a"; done

# make_bundle NAME ARG... -> prints the bundle dir
# (BUNDLE_TERMINAL=true in the environment: process.terminal = true)
make_bundle() {
    local name="$1"; shift
    local dir="$TMP/bundle-$name" term="${BUNDLE_TERMINAL:-false}"
    mkdir -p "$dir"
    cp -a "$BASE" "$dir/rootfs"
    (cd "$dir" && "$RUNC" spec)
    if (( HAVE_JQ )); then
        # (jq keeps parsing options after --args, so append one at a time)
        local a args_json='[]'
        for a in "$@"; do args_json="$(jq -c --arg a "$a" '. + [$a]' <<<"$args_json")"; done
        jq --argjson a "$args_json" --argjson t "$term" '.process.args = $a | .process.terminal = $t' \
            "$dir/config.json" > "$dir/config.json.new"
    else
        "$PYTHON" - "$dir/config.json" "$term" "$@" > "$dir/config.json.new" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = sys.argv[3:]
c["process"]["terminal"] = sys.argv[2] == "true"
json.dump(c, sys.stdout, indent=2)
EOF
    fi
    mv "$dir/config.json.new" "$dir/config.json"
    echo "$dir"
}

# make_process BUNDLE FILE TERMINAL ARG... -> an exec process.json from the
# bundle's process section
make_process() {
    local bundle="$1" file="$2" term="$3"; shift 3
    "$PYTHON" - "$bundle/config.json" "$term" "$@" > "$file" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))["process"]
p["args"] = sys.argv[3:]
p["terminal"] = sys.argv[2] == "true"
p.pop("consoleSize", None)
json.dump(p, sys.stdout)
EOF
}

# new_id: sets ID (not usable in $(...): it must update SEQ/IDS here)
new_id() {
    SEQ=$((SEQ + 1))
    ID="berth-smoke-$$-$SEQ"
    IDS+=("$ID")
}

# launch ID BUNDLE STATE [SHIM_ARG...] -> runs the launcher; sets LAUNCH_RC,
# LAUNCH_OUT, LAUNCH_ERR, LAUNCH_MS, and SHIMPID on success
launch() {
    local id="$1" bundle="$2" state="$3" t0 t1
    shift 3
    mkdir -p "$state"
    t0="$(now_ns)"
    set +e
    LAUNCH_OUT="$("$SHIM" --id "$id" --bundle "$bundle" --state "$state" \
        --runtime "$RUNC" --runtime-root "$ROOT" "$@" 2>"$state.launcher-stderr")"
    LAUNCH_RC=$?
    set -e
    t1="$(now_ns)"
    LAUNCH_ERR="$(cat "$state.launcher-stderr")"
    LAUNCH_MS=$(( (t1 - t0) / 1000000 ))
    SHIMPID=""
    if [[ "$LAUNCH_RC" == 0 && -f "$state/shim.pid" ]]; then
        SHIMPID="$(cat "$state/shim.pid")"
        SHIM_PIDS+=("$SHIMPID")
    fi
}

launch_ok() { # ID BUNDLE STATE [SHIM_ARG...]
    launch "$@"
    [[ "$LAUNCH_RC" == 0 ]] && pass || fail "launcher rc=$LAUNCH_RC stderr=$LAUNCH_ERR"
    [[ "$LAUNCH_OUT" =~ ^[0-9]+$ ]] && pass || fail "launcher stdout is not a pid: '$LAUNCH_OUT'"
    [[ -z "$LAUNCH_ERR" ]] && pass || fail "launcher wrote to stderr: $LAUNCH_ERR"
    log "launcher -> pid $LAUNCH_OUT in ${LAUNCH_MS} ms"
}

# client SOCK ACTION... -> JSON result of shim-client.py (see there)
client() { "$PYTHON" "$CLIENT" "$@"; }

# jget FILE KEY -> the value of KEY in the JSON object in FILE ("" for null)
jget() {
    "$PYTHON" -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
sys.stdout.write("" if v is None else str(v))' "$1" "$2"
}

# jval FILE KEY -> sets JV to the exact value (trailing newlines kept)
jval() { local v; v="$(jget "$1" "$2"; echo .)"; JV="${v%.}"; }

# start_and_wait ID STATE [NCLIENTS] -> connects NCLIENTS silent clients to
# shim.sock, runs `runc start`, prints the line every client received (all
# must be identical).
start_and_wait() {
    local id="$1" state="$2" n="${3:-1}"
    "$PYTHON" - "$state/shim.sock" "$n" "$RUNC" "$ROOT" "$id" <<'EOF'
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
}

wait_exit_file() { # STATE [NAME]
    local state="$1" name="${2:-exit}" i
    for i in $(seq 1 600); do
        [[ -f "$state/$name" ]] && { cat "$state/$name"; return 0; }
        sleep 0.1
    done
    fail "no $name file in $state"
}

check_exit_line() { # LINE CODE SIGNAL
    local line="$1" code="$2" sig="$3"
    [[ "$line" =~ ^([0-9]+)\ ([0-9]+)\ ([0-9]{19})$ ]] && pass || fail "bad exit line: '$line'"
    [[ "${BASH_REMATCH[1]}" == "$code" && "${BASH_REMATCH[2]}" == "$sig" ]] && pass \
        || fail "expected exit '$code $sig', got '$line'"
    local ts="${BASH_REMATCH[3]}" now; now="$(now_ns)"
    (( ts <= now && now - ts < 120000000000 )) && pass || fail "exit timestamp $ts not recent (now $now)"
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

# Zombies the shims of this test failed to reap: children of one of our shim
# pids.  (An exited shim is a daemon whose zombie belongs to pid 1; how soon
# pid 1 reaps it is not the shim's business, and other shims on this machine
# are not ours.)
our_zombies() {
    ps -eo pid=,ppid=,stat=,comm= | awk -v pids=" ${SHIM_PIDS[*]:-} " \
        '$3 ~ /^Z/ && index(pids, " " $2 " ") > 0' || true
}

# no_strays ID STATE [INIT_PID] [SHIM_PID]: waits up to ~10s for everything to
# be gone, then fails if a shim for ID, the init or an unreaped child remains.
no_strays() {
    local id="$1" state="$2" init="${3:-}" shim="${4:-}" i bad
    for i in $(seq 1 100); do
        bad=""
        if pgrep -f -- "--id $id " >/dev/null; then bad="shim process for $id still running"; fi
        if [[ -n "$init" ]] && proc_alive "$init"; then bad="container init $init still alive"; fi
        if [[ -n "$shim" ]] && proc_alive "$shim" && grep -q berth-shim "/proc/$shim/comm" 2>/dev/null; then
            bad="shim $shim still running (state $(proc_state "$shim" || echo gone))"
        fi
        local z
        z="$(our_zombies)"
        if [[ -n "$z" ]]; then bad="zombies: $z"; fi
        [[ -z "$bad" ]] && { pass; return 0; }
        sleep 0.1
    done
    fail "$bad"
}

# shim_fds_ok SHIM_PID INIT_PID: fds 0-2 are /dev/null, and the only pipes the
# shim holds are the container's stdio (no agent/launcher pipes)
shim_fds_ok() {
    local p="$1" init="$2" fds ifds f
    fds="$(ls -l "/proc/$p/fd" 2>/dev/null | awk 'NR>1{print $NF}')"
    ifds="$(ls -l "/proc/$init/fd" 2>/dev/null | awk 'NR>1{print $NF}')"
    for f in $(grep '^pipe:' <<<"$fds" || true); do
        grep -qxF "$f" <<<"$ifds" || fail "shim $p holds a pipe the container does not: $f ($(tr '\n' ' ' <<<"$fds"))"
    done
    pass
    [[ "$(readlink "/proc/$p/fd/0")" == /dev/null ]] && pass || fail "shim stdin is not /dev/null"
    [[ "$(readlink "/proc/$p/fd/1")" == /dev/null ]] && pass || fail "shim stdout is not /dev/null"
    [[ "$(readlink "/proc/$p/fd/2")" == /dev/null ]] && pass || fail "shim stderr is not /dev/null"
}

mem_report() { # SHIM_PID
    local p="$1"
    awk -v pid="$p" '/^(Rss|Pss|Pss_Anon|Pss_File|Private_Dirty|Private_Clean|Shared_Clean):/ {printf "%s %s kB  ", $1, $2} END {print ""}' \
        "/proc/$p/smaps_rollup" | sed "s/^/shim $p: /"
    PSS_KB="$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup")"
}

# cri_check FILE...: every line of the files is a valid CRI record; prints
# the reassembled streams as JSON {"stdout": ..., "stderr": ..., "records": N,
# "tags": "FFP..."}
cri_check() {
    "$PYTHON" - "$@" <<'EOF'
import json, re, sys
rec = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([FP]) (.*)$", re.S)
out = {"stdout": "", "stderr": "", "records": 0, "tags": ""}
last = None
for f in sys.argv[1:]:
    data = open(f, "rb").read()
    if data and not data.endswith(b"\n"):
        sys.exit("%s does not end with a newline" % f)
    for line in data.split(b"\n")[:-1]:
        m = rec.match(line)
        if not m:
            sys.exit("bad CRI record in %s: %r" % (f, line[:200]))
        if last is not None and m.group(1) < last:
            sys.exit("timestamps go backwards in %s: %r" % (f, line[:80]))
        last = m.group(1)
        s = m.group(2).decode()
        out[s] += m.group(4).decode("latin-1") + ("\n" if m.group(3) == b"F" else "")
        out["records"] += 1
        out["tags"] += m.group(3).decode()
json.dump(out, sys.stdout)
EOF
}

# ================================================================= case 1
log "case 1: exit code, output in container.log, socket notification"
new_id; ST="$TMP/state-$ID"
B1="$(make_bundle c1 sh -c 'echo hi; echo err >&2; exit 3')"
launch_ok "$ID" "$B1" "$ST"
INIT="$LAUNCH_OUT"
[[ "$(cat "$ST/init.pid")" == "$INIT" ]] && pass || fail "init.pid mismatch"
[[ -S "$ST/shim.sock" ]] && pass || fail "no shim.sock"
[[ "$(stat -c %a "$ST/shim.sock")" == 600 ]] && pass || fail "shim.sock mode $(stat -c %a "$ST/shim.sock")"
[[ "$(stat -c %a "$ST/container.log")" == 640 ]] && pass || fail "container.log mode"
[[ ! -e "$ST/stdout.log" && ! -e "$ST/stderr.log" ]] && pass || fail "stdout.log/stderr.log still written"
proc_alive "$SHIMPID" && pass || fail "shim not running"
[[ "$(ppid_of "$INIT")" == "$SHIMPID" ]] && pass || fail "init's parent is not the shim"
[[ "$(ps -o sid= -p "$SHIMPID" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ]] && pass || fail "shim in our session"
shim_fds_ok "$SHIMPID" "$INIT"
"$RUNC" --root "$ROOT" state "$ID" | grep -q '"status": "created"' && pass || fail "container not in created state"
LINE="$(start_and_wait "$ID" "$ST" 2)"
LINE="${LINE%$'\n'}"
log "socket line: $LINE"
check_exit_line "$LINE" 3 0
[[ -f "$ST/exit" ]] && pass || fail "exit file missing"
[[ "$(cat "$ST/exit")" == "$LINE" ]] && pass || fail "exit file '$(cat "$ST/exit")' != socket line"
[[ ! -e "$ST/exit.tmp" ]] && pass || fail "exit.tmp left behind"
cri_check "$ST/container.log" > "$TMP/c1.json" || fail "container.log: $(cat "$ST/container.log")"
[[ "$(jget "$TMP/c1.json" stdout)" == hi ]] && pass || fail "stdout = '$(jget "$TMP/c1.json" stdout)'"
[[ "$(jget "$TMP/c1.json" stderr)" == err ]] && pass || fail "stderr = '$(jget "$TMP/c1.json" stderr)'"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
[[ ! -e "$ST/shim.sock" ]] && pass || fail "shim.sock not removed"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 1 ok"

# ================================================================= case 2
log "case 2: SIGKILL via runc kill, memory footprint"
new_id; ST="$TMP/state-$ID"
B2="$(make_bundle c2 sleep 300)"
launch_ok "$ID" "$B2" "$ST"
INIT="$LAUNCH_OUT"
"$RUNC" --root "$ROOT" start "$ID"
sleep 0.3
"$RUNC" --root "$ROOT" state "$ID" | grep -q '"status": "running"' && pass || fail "container not running"
mem_report "$SHIMPID"
(( PSS_KB < 1024 )) && pass || fail "shim PSS ${PSS_KB} kB >= 1 MB"
# two clients, connected before the kill
"$PYTHON" - "$ST/shim.sock" > "$TMP/c2.lines" <<'EOF' &
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
"$RUNC" --root "$ROOT" kill "$ID" KILL
wait "$CPID" || fail "socket clients failed"
[[ "$(grep -vc connected "$TMP/c2.lines")" == 2 ]] && pass || fail "expected 2 lines: $(cat "$TMP/c2.lines")"
LINE="$(grep -v connected "$TMP/c2.lines" | head -1)"
[[ "$(grep -v connected "$TMP/c2.lines" | sort -u | wc -l)" == 1 ]] && pass || fail "clients got different lines"
log "socket line: $LINE"
check_exit_line "$LINE" 137 9
wait_exit_file "$ST" >/dev/null
[[ "$(cat "$ST/exit")" == "$LINE" ]] && pass || fail "exit file differs"
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
[[ -s "$TMP/c3.out" ]] && pass || fail "launcher in wrapper did not report a pid"
INIT="$(cat "$TMP/c3.out")"; SHIMPID="$(cat "$ST/shim.pid")"; SHIM_PIDS+=("$SHIMPID")
kill -9 "$WRAPPER_PID"; wait "$WRAPPER_PID" 2>/dev/null || true
log "killed agent stand-in $WRAPPER_PID; shim $SHIMPID ppid=$(ppid_of "$SHIMPID")"
unset WRAPPER_PID
sleep 0.2
proc_alive "$SHIMPID" && pass || fail "shim died with its launcher's parent"
proc_alive "$INIT" && pass || fail "container init died with its launcher's parent"
shim_fds_ok "$SHIMPID" "$INIT"
LINE="$(start_and_wait "$ID" "$ST")"; LINE="${LINE%$'\n'}"
log "socket line: $LINE"
check_exit_line "$LINE" 7 0
cri_check "$ST/container.log" > "$TMP/c3.json" || fail "container.log: $(cat "$ST/container.log")"
[[ "$(jget "$TMP/c3.json" stdout)" == later ]] && pass || fail "stdout = '$(jget "$TMP/c3.json" stdout)'"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 3 ok"

# ================================================================= case 4
log "case 4: runc create failure is reported, nothing is left behind"
new_id; ST="$TMP/state-$ID"
B4="$(make_bundle c4 /nope)"
launch "$ID" "$B4" "$ST"
log "launcher rc=$LAUNCH_RC in ${LAUNCH_MS} ms, stderr: $LAUNCH_ERR"
[[ "$LAUNCH_RC" == 1 ]] && pass || fail "expected launcher rc 1, got $LAUNCH_RC"
[[ -z "$LAUNCH_OUT" ]] && pass || fail "launcher printed to stdout: $LAUNCH_OUT"
[[ "$(wc -l <<<"$LAUNCH_ERR")" == 1 ]] && pass || fail "stderr is not one line"
[[ "$LAUNCH_ERR" == "runc create failed: "* ]] && pass || fail "bad message prefix: $LAUNCH_ERR"
[[ "$LAUNCH_ERR" != "runc create failed: runc create failed: "* ]] && pass || fail "doubled prefix"
grep -q '/nope' <<<"$LAUNCH_ERR" && pass || fail "message does not mention /nope: $LAUNCH_ERR"
[[ ! -e "$ST/shim.sock" && ! -e "$ST/shim.pid" && ! -e "$ST/exit" && ! -e "$ST/console.sock" ]] && pass \
    || fail "state files left: $(ls "$ST")"
no_strays "$ID" "$ST"
if "$RUNC" --root "$ROOT" state "$ID" >/dev/null 2>&1; then fail "runc still knows $ID"; fi
pass

# the same with --start (runc run) and --tty: prefix of `runc run`
new_id; ST="$TMP/state-$ID"
B4T="$(BUNDLE_TERMINAL=true make_bundle c4t /nope)"
launch "$ID" "$B4T" "$ST" --start --tty
log "--start --tty: launcher rc=$LAUNCH_RC, stderr: $LAUNCH_ERR"
[[ "$LAUNCH_RC" == 1 && "$LAUNCH_ERR" == "runc run failed: "*/nope* ]] && pass || fail "bad --start failure report: $LAUNCH_ERR"
[[ ! -e "$ST/shim.sock" && ! -e "$ST/shim.pid" && ! -e "$ST/console.sock" ]] && pass || fail "state files left: $(ls "$ST")"
no_strays "$ID" "$ST"

# a runtime that cannot be executed at all
new_id; ST="$TMP/state-$ID"; mkdir -p "$ST"
set +e
ERR="$("$SHIM" --id "$ID" --bundle "$B1" --state "$ST" --runtime "$TMP/no-such-runc" \
        --runtime-root "$ROOT" 2>&1 >/dev/null)"; RC=$?
set -e
log "missing runtime: rc=$RC stderr: $ERR"
[[ "$RC" == 1 && "$ERR" == "runc create failed: "*no-such-runc* ]] && pass || fail "missing runtime not reported"
no_strays "$ID" "$ST"

# bad flag values are refused by the launcher
set +e
ERR="$("$SHIM" --id x --bundle "$B1" --state "$ST" --runtime "$RUNC" --runtime-root "$ROOT" \
        --log-max-files 0 2>&1 >/dev/null)"; RC=$?
set -e
[[ "$RC" == 1 && "$ERR" == *"--log-max-files"* ]] && pass || fail "--log-max-files 0 accepted ($RC: $ERR)"
log "case 4 ok"

# ================================================================= case 6
log "case 6: CRI log format: both streams, long lines split, partial lines"
new_id; ST="$TMP/state-$ID"
B6="$(make_bundle c6 sh -c 'echo out1; echo err1 >&2; head -c 20000 /dev/zero | tr "\0" a; echo;
    head -c 16384 /dev/zero | tr "\0" b; echo; printf "e-part" >&2; echo out2; printf "no-newline"')"
launch_ok "$ID" "$B6" "$ST"
INIT="$LAUNCH_OUT"
LINE="$(start_and_wait "$ID" "$ST")"; LINE="${LINE%$'\n'}"
check_exit_line "$LINE" 0 0
cri_check "$ST/container.log" > "$TMP/c6.json" || fail "container.log is not CRI"
"$PYTHON" - "$TMP/c6.json" "$ST/container.log" <<'EOF' || fail "case 6 log content"
import json, sys
j = json.load(open(sys.argv[1]))
want_out = "out1\n" + "a" * 20000 + "\n" + "b" * 16384 + "\nout2\nno-newline"
if j["stdout"] != want_out:
    sys.exit("stdout differs: %r" % j["stdout"][:120])
if j["stderr"] != "err1\ne-part":
    sys.exit("stderr = %r" % j["stderr"])
lines = open(sys.argv[2], "rb").read().split(b"\n")[:-1]
def content(l): return l.split(b" ", 3)[3]
def kind(l): return b" ".join(l.split(b" ")[1:3]).decode()
a = [l for l in lines if content(l).startswith(b"a")]
if [(kind(l), len(content(l))) for l in a] != [("stdout P", 16384), ("stdout F", 3616)]:
    sys.exit("20000-byte line split as %r" % [(kind(l), len(content(l))) for l in a])
b = [l for l in lines if content(l).startswith(b"b")]
if [(kind(l), len(content(l))) for l in b] != [("stdout F", 16384)]:
    sys.exit("16384-byte line recorded as %r" % [(kind(l), len(content(l))) for l in b])
so = [l for l in lines if kind(l).startswith("stdout")]
if kind(so[-1]) != "stdout P" or content(so[-1]) != b"no-newline":
    sys.exit("last stdout record %r" % so[-1])
ep = [l for l in lines if content(l) == b"e-part"]
if len(ep) != 1 or kind(ep[0]) != "stderr P":
    sys.exit("stderr partial: %r" % ep)
EOF
pass
log "records: $(jget "$TMP/c6.json" tags)"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 6 ok"

# ================================================================= case 7
log "case 7: log rotation (--log-max-bytes / --log-max-files)"
B7="$(make_bundle c7 sh -c 'for i in $(seq 1 300); do echo line-$i; done')"
for K in 3 1; do
    new_id; ST="$TMP/state-$ID"
    launch_ok "$ID" "$B7" "$ST" --log-max-bytes 2000 --log-max-files "$K"
    INIT="$LAUNCH_OUT"
    LINE="$(start_and_wait "$ID" "$ST")"; LINE="${LINE%$'\n'}"
    check_exit_line "$LINE" 0 0
    FILES=()
    for ((i = K - 1; i >= 1; i--)); do
        [[ -f "$ST/container.log.$i" ]] && pass || fail "K=$K: container.log.$i missing ($(ls "$ST"))"
        FILES+=("$ST/container.log.$i")
    done
    FILES+=("$ST/container.log")
    [[ ! -e "$ST/container.log.$K" ]] && pass || fail "K=$K: container.log.$K exists (too many files)"
    for f in "${FILES[@]}"; do
        (( $(stat -c %s "$f") <= 2000 )) && pass || fail "$f is $(stat -c %s "$f") bytes > 2000"
    done
    cri_check "${FILES[@]}" > "$TMP/c7.json" || fail "rotated logs are not CRI"
    "$PYTHON" - "$TMP/c7.json" "$K" <<'EOF' || fail "K=$K: content across rotated files"
import json, sys
j = json.load(open(sys.argv[1]))
lines = j["stdout"].split("\n")
if lines[-1] != "":
    sys.exit("last line unterminated")
nums = [int(l[len("line-"):]) for l in lines[:-1]]
if not nums or nums[-1] != 300:
    sys.exit("does not end with line-300: %r" % nums[-3:])
if nums != list(range(nums[0], 301)):
    sys.exit("lines not consecutive: %r" % nums[:10])
if int(sys.argv[2]) > 1 and len(nums) < 60:
    sys.exit("too few lines kept: %d" % len(nums))
print("K=%s: kept line-%d .. line-300 in %s" % (sys.argv[2], nums[0], "files"))
EOF
    pass
    no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
    "$RUNC" --root "$ROOT" delete "$ID"
done
log "case 7 ok"

# ================================================================= case 8
log "case 8: --start (runc run --detach)"
new_id; ST="$TMP/state-$ID"
B8="$(make_bundle c8 sh -c 'echo started; sleep 1; exit 5')"
launch_ok "$ID" "$B8" "$ST" --start
INIT="$LAUNCH_OUT"
[[ "$(cat "$ST/init.pid")" == "$INIT" ]] && pass || fail "init.pid mismatch"
"$RUNC" --root "$ROOT" state "$ID" | grep -q '"status": "running"' && pass || fail "container not running after --start"
[[ "$(ppid_of "$INIT")" == "$SHIMPID" ]] && pass || fail "init's parent is not the shim"
client "$ST/shim.sock" raw > "$TMP/c8.json"
LINE="$(jget "$TMP/c8.json" raw)"; LINE="${LINE%$'\n'}"
check_exit_line "$LINE" 5 0
cri_check "$ST/container.log" > "$TMP/c8l.json" || fail "container.log"
[[ "$(jget "$TMP/c8l.json" stdout)" == started ]] && pass || fail "stdout = '$(jget "$TMP/c8l.json" stdout)'"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"

# an init that is gone before runc run returns
new_id; ST="$TMP/state-$ID"
B8B="$(make_bundle c8b sh -c 'echo quick; exit 6')"
launch_ok "$ID" "$B8B" "$ST" --start
LINE="$(wait_exit_file "$ST")"
check_exit_line "$LINE" 6 0
cri_check "$ST/container.log" > "$TMP/c8l.json" || fail "container.log"
[[ "$(jget "$TMP/c8l.json" stdout)" == quick ]] && pass || fail "stdout = '$(jget "$TMP/c8l.json" stdout)'"
no_strays "$ID" "$ST" "" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 8 ok"

# ================================================================= case 9
log "case 9: --stdin and ATTACH (stdin echo, two attach clients, a silent watcher)"
new_id; ST="$TMP/state-$ID"
B9="$(make_bundle c9 cat)"
launch_ok "$ID" "$B9" "$ST" --stdin
INIT="$LAUNCH_OUT"
shim_fds_ok "$SHIMPID" "$INIT"
[[ "$(readlink "/proc/$INIT/fd/0")" == pipe:* ]] && pass || fail "container stdin is not a pipe"
# a passive attach client and a silent watcher, connected first
client "$ST/shim.sock" line:ATTACH "ready:$TMP/c9.ready1" frames > "$TMP/c9b.json" &
P1=$!
client "$ST/shim.sock" "ready:$TMP/c9.ready2" raw > "$TMP/c9w.json" &
P2=$!
for _ in $(seq 1 100); do [[ -e "$TMP/c9.ready1" && -e "$TMP/c9.ready2" ]] && break; sleep 0.05; done
client "$ST/shim.sock" line:ATTACH "run:$RUNC --root $ROOT start $ID" 'I:hello\n' sleep:0.2 \
    'I:world\n' C frames > "$TMP/c9.json"
wait "$P1" || fail "passive attach client failed"
wait "$P2" || fail "watcher failed"
log "attach: $(cat "$TMP/c9.json")"
jval "$TMP/c9.json" O; [[ "$JV" == $'hello\nworld\n' ]] && pass || fail "O = '$JV'"
[[ "$(jget "$TMP/c9.json" types)" == OX ]] && pass || fail "frame types $(jget "$TMP/c9.json" types)"
[[ "$(jget "$TMP/c9.json" eof)" == True && -z "$(jget "$TMP/c9.json" after_x)" ]] && pass || fail "no EOF right after X"
LINE="$(jget "$TMP/c9.json" X)"
check_exit_line "$LINE" 0 0
jval "$TMP/c9b.json" O; [[ "$JV" == $'hello\nworld\n' && "$(jget "$TMP/c9b.json" X)" == "$LINE" ]] && pass \
    || fail "second attach client: $(cat "$TMP/c9b.json")"
[[ "$(jget "$TMP/c9w.json" raw; echo .)" == "$LINE"$'\n.' ]] && pass || fail "watcher got '$(jget "$TMP/c9w.json" raw)'"
[[ "$(cat "$ST/exit")" == "$LINE" ]] && pass || fail "exit file differs from X"
cri_check "$ST/container.log" > "$TMP/c9l.json" || fail "container.log"
jval "$TMP/c9l.json" stdout; [[ "$JV" == $'hello\nworld\n' ]] && pass || fail "log stdout = '$JV'"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"

# unknown command
new_id; ST="$TMP/state-$ID"
B9B="$(make_bundle c9b sleep 300)"
launch_ok "$ID" "$B9B" "$ST" --start
client "$ST/shim.sock" line:HELLO reply > "$TMP/c9u.json"
[[ "$(jget "$TMP/c9u.json" reply)" == "ER unknown command" && "$(jget "$TMP/c9u.json" eof)" == True ]] && pass \
    || fail "unknown command: $(cat "$TMP/c9u.json")"
# without --stdin the container's stdin is /dev/null and 'I' is dropped
[[ "$(readlink "/proc/$LAUNCH_OUT/fd/0")" == /dev/null ]] && pass || fail "stdin without --stdin is not /dev/null"
"$RUNC" --root "$ROOT" kill "$ID" KILL
LINE="$(wait_exit_file "$ST")"; check_exit_line "$LINE" 137 9
no_strays "$ID" "$ST" "$LAUNCH_OUT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 9 ok"

# ================================================================ case 10
log "case 10: --tty (console socket, resize, stdin to the master)"
new_id; ST="$TMP/state-$ID"
B10="$(BUNDLE_TERMINAL=true make_bundle c10 sh -c 'tty; stty size; test -t 0 && echo stdin-is-tty')"
launch_ok "$ID" "$B10" "$ST" --tty
INIT="$LAUNCH_OUT"
[[ ! -e "$ST/console.sock" ]] && pass || fail "console.sock left behind"
[[ "$(readlink "/proc/$INIT/fd/1")" == /dev/pts/* ]] && pass || fail "container stdout is not a pty"
client "$ST/shim.sock" line:ATTACH R:33:77 sleep:0.3 "run:$RUNC --root $ROOT start $ID" frames > "$TMP/c10.json"
log "attach: $(cat "$TMP/c10.json")"
jval "$TMP/c10.json" O; O="$JV"
[[ "$O" == /dev/pts/*$'\r\n33 77\r\nstdin-is-tty\r\n' ]] && pass || fail "tty output: $(cat "$TMP/c10.json")"
check_exit_line "$(jget "$TMP/c10.json" X)" 0 0
cri_check "$ST/container.log" > "$TMP/c10l.json" || fail "container.log"
jval "$TMP/c10l.json" stdout; [[ "$JV" == "$O" && -z "$(jget "$TMP/c10l.json" stderr)" ]] && pass \
    || fail "tty log: $(cat "$ST/container.log")"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"

# --start --tty --stdin: input reaches the program through the terminal
new_id; ST="$TMP/state-$ID"
B10B="$(BUNDLE_TERMINAL=true make_bundle c10b sh -c 'read x; echo got:$x; stty size')"
launch_ok "$ID" "$B10B" "$ST" --start --tty --stdin
INIT="$LAUNCH_OUT"
client "$ST/shim.sock" line:ATTACH R:40:100 'I:abc\n' frames > "$TMP/c10b.json"
log "attach: $(cat "$TMP/c10b.json")"
jval "$TMP/c10b.json" O; O="$JV"
[[ "$O" == *$'got:abc\r\n40 100\r\n' ]] && pass || fail "tty stdin/resize: $(cat "$TMP/c10b.json")"
check_exit_line "$(jget "$TMP/c10b.json" X)" 0 0
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 10 ok"

# ================================================================ case 11
log "case 11: EXEC"
new_id; ST="$TMP/state-$ID"
B11="$(make_bundle c11 sleep 300)"
launch_ok "$ID" "$B11" "$ST" --start
INIT="$LAUNCH_OUT"
make_process "$B11" "$TMP/p-ok.json" false sh -c 'echo out; echo err >&2; exit 7'
make_process "$B11" "$TMP/p-nope.json" false /nope
make_process "$B11" "$TMP/p-cat.json" false cat
make_process "$B11" "$TMP/p-tty.json" true sh -c 'read x; echo got:$x; stty size; exit 3'
make_process "$B11" "$TMP/p-late.json" false sh -c 'sleep 0.5; echo late; exit 4'
make_process "$B11" "$TMP/p-long.json" false sleep 1000

client "$ST/shim.sock" "line:EXEC e1 $TMP/p-ok.json" reply frames > "$TMP/c11a.json"
log "exec e1: $(cat "$TMP/c11a.json")"
R="$(jget "$TMP/c11a.json" reply)"
[[ "$R" =~ ^OK\ [0-9]+$ ]] && pass || fail "EXEC reply '$R'"
jval "$TMP/c11a.json" O; O="$JV"; jval "$TMP/c11a.json" E
[[ "$O" == $'out\n' && "$JV" == $'err\n' ]] && pass || fail "exec output: $(cat "$TMP/c11a.json")"
[[ "$(jget "$TMP/c11a.json" types)" =~ ^(OE|EO)X$ ]] && pass || fail "exec frames $(jget "$TMP/c11a.json" types)"
LINE="$(jget "$TMP/c11a.json" X)"
check_exit_line "$LINE" 7 0
[[ "$(cat "$ST/exec-e1.exit")" == "$LINE" ]] && pass || fail "exec-e1.exit '$(cat "$ST/exec-e1.exit" 2>&1)' != X"
[[ ! -e "$ST/exec-e1.exit.tmp" ]] && pass || fail "exec-e1.exit.tmp left"
[[ "$(cat "$ST/exec-e1.pid")" == "${R#OK }" ]] && pass || fail "exec-e1.pid differs from OK pid"
cri_check "$ST/exec-e1.log" > "$TMP/c11al.json" || fail "exec-e1.log"
[[ "$(jget "$TMP/c11al.json" stdout)" == out && "$(jget "$TMP/c11al.json" stderr)" == err ]] && pass \
    || fail "exec-e1.log: $(cat "$ST/exec-e1.log")"
! grep -q 'out' "$ST/container.log" && pass || fail "exec output went to container.log"

client "$ST/shim.sock" "line:EXEC e2 $TMP/p-nope.json" reply > "$TMP/c11b.json"
R="$(jget "$TMP/c11b.json" reply)"
log "exec e2: $R"
[[ "$R" == "ER runc exec failed: "*/nope* ]] && pass || fail "failing EXEC reply '$R'"
[[ "$R" != *"exec failed: exec failed"* ]] && pass || fail "doubled prefix: $R"
[[ "$(jget "$TMP/c11b.json" eof)" == True ]] && pass || fail "connection not closed after ER"
[[ ! -e "$ST/exec-e2.exit" ]] && pass || fail "exit file for a failed exec"

for bad in "EXEC" "EXEC bad/id $TMP/p-ok.json" "EXEC e3 relative.json" "EXEC e3 $TMP/p-ok.json bogus"; do
    client "$ST/shim.sock" "line:$bad" reply > "$TMP/c11c.json"
    [[ "$(jget "$TMP/c11c.json" reply)" == "ER "* ]] && pass || fail "'$bad' -> $(cat "$TMP/c11c.json")"
done

client "$ST/shim.sock" "line:EXEC e4 $TMP/p-cat.json stdin" reply 'I:abc\n' 'I:def' C frames > "$TMP/c11d.json"
log "exec e4: $(cat "$TMP/c11d.json")"
jval "$TMP/c11d.json" O; [[ "$JV" == $'abc\ndef' ]] && pass || fail "exec stdin echo: $(cat "$TMP/c11d.json")"
check_exit_line "$(jget "$TMP/c11d.json" X)" 0 0

client "$ST/shim.sock" "line:EXEC e5 $TMP/p-tty.json tty stdin" reply R:33:77 'I:xyz\n' frames > "$TMP/c11e.json"
log "exec e5: $(cat "$TMP/c11e.json")"
jval "$TMP/c11e.json" O; [[ "$JV" == *$'got:xyz\r\n33 77\r\n' ]] && pass || fail "exec tty: $(cat "$TMP/c11e.json")"
check_exit_line "$(jget "$TMP/c11e.json" X)" 3 0
[[ ! -e "$ST/exec-e5.console.sock" ]] && pass || fail "exec console socket left"

# several at once
for i in 1 2 3 4; do
    make_process "$B11" "$TMP/p-par$i.json" false sh -c "sleep 0.3; echo par$i; exit $i"
    client "$ST/shim.sock" "line:EXEC par$i $TMP/p-par$i.json" reply frames > "$TMP/c11p$i.json" &
    eval "PP$i=\$!"
done
for i in 1 2 3 4; do
    eval "wait \$PP$i" || fail "parallel exec client $i failed"
    jval "$TMP/c11p$i.json" O; [[ "$JV" == "par$i"$'\n' ]] && pass || fail "par$i: $(cat "$TMP/c11p$i.json")"
    check_exit_line "$(jget "$TMP/c11p$i.json" X)" "$i" 0
done

# the client goes away right after OK: the exec still runs and is recorded
client "$ST/shim.sock" "line:EXEC e6 $TMP/p-late.json" reply > "$TMP/c11f.json"
[[ "$(jget "$TMP/c11f.json" reply)" == OK* ]] && pass || fail "e6: $(cat "$TMP/c11f.json")"
LINE="$(wait_exit_file "$ST" exec-e6.exit)"
check_exit_line "$LINE" 4 0
cri_check "$ST/exec-e6.log" > "$TMP/c11fl.json" || fail "exec-e6.log"
[[ "$(jget "$TMP/c11fl.json" stdout)" == late ]] && pass || fail "exec-e6.log: $(cat "$ST/exec-e6.log")"

# PSS of the shim after all that, idle
mem_report "$SHIMPID"
(( PSS_KB < 1024 )) && pass || fail "shim PSS ${PSS_KB} kB >= 1 MB"
shim_fds_ok "$SHIMPID" "$INIT"

# a running exec when the container dies: its exit file comes first
client "$ST/shim.sock" "line:EXEC long $TMP/p-long.json" reply frames > "$TMP/c11g.json" &
PL=$!
for _ in $(seq 1 100); do [[ -s "$ST/exec-long.pid" ]] && break; sleep 0.05; done
sleep 0.2
LONGPID="$(cat "$ST/exec-long.pid")"
[[ "$(ppid_of "$LONGPID")" == "$SHIMPID" ]] && pass || fail "exec's parent is not the shim"
client "$ST/shim.sock" raw > "$TMP/c11w.json" &
PW=$!
sleep 0.2
"$RUNC" --root "$ROOT" kill "$ID" KILL
wait "$PL" || fail "exec client failed"
wait "$PW" || fail "watcher failed"
check_exit_line "$(jget "$TMP/c11g.json" X)" 137 9
[[ "$(cat "$ST/exec-long.exit")" == "$(jget "$TMP/c11g.json" X)" ]] && pass || fail "exec-long.exit"
LINE="$(jget "$TMP/c11w.json" raw)"; LINE="${LINE%$'\n'}"
check_exit_line "$LINE" 137 9
"$PYTHON" -c 'import os, sys; sys.exit(os.stat(sys.argv[1]).st_mtime_ns > os.stat(sys.argv[2]).st_mtime_ns)' \
    "$ST/exec-long.exit" "$ST/exit" && pass || fail "exec exit file written after the container's"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
proc_alive "$LONGPID" && fail "exec process $LONGPID survived"
pass
"$RUNC" --root "$ROOT" delete "$ID"
log "case 11 ok"

# ================================================================ case 12
log "case 12: the exit file appears only after all output is logged"
new_id; ST="$TMP/state-$ID"
B12="$(make_bundle c12 sh -c 'seq 1 50000; printf tail-no-newline; echo to-stderr >&2')"
launch_ok "$ID" "$B12" "$ST" --log-max-bytes 0
INIT="$LAUNCH_OUT"
"$PYTHON" - "$ST" "$RUNC" "$ROOT" "$ID" <<'EOF' || fail "log incomplete when the exit file appeared"
import os, subprocess, sys, time
st, runc, root, cid = sys.argv[1:]
subprocess.run([runc, "--root", root, "start", cid], check=True)
deadline = time.time() + 60
while not os.path.exists(os.path.join(st, "exit")):
    if time.time() > deadline:
        sys.exit("no exit file")
    time.sleep(0.001)
data = open(os.path.join(st, "container.log"), "rb").read()
lines = data.split(b"\n")[:-1]
full = [l for l in lines if b" stdout F " in l]
if len(full) != 50000:
    sys.exit("only %d of 50000 lines logged when exit appeared" % len(full))
out = [l for l in lines if b" stdout " in l]
if not out[-1].endswith(b" stdout P tail-no-newline"):
    sys.exit("partial tail not logged: %r" % out[-2:])
if not any(l.endswith(b" stderr F to-stderr") for l in lines):
    sys.exit("stderr line not logged")
EOF
pass
check_exit_line "$(cat "$ST/exit")" 0 0
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 12 ok"

# ================================================================ case 13
log "case 13: backpressure: a full stdin pipe and a client that does not read"
new_id; ST="$TMP/state-$ID"
B13="$(make_bundle c13 sh -c 'sleep 1; cat | wc -c')"
launch_ok "$ID" "$B13" "$ST" --start --stdin
INIT="$LAUNCH_OUT"
# 1 MiB while nothing reads stdin for a second: the shim must hold the input
# back (not drop it, not block) and deliver all of it
client "$ST/shim.sock" line:ATTACH Ibig:1048576 C frames > "$TMP/c13.json"
jval "$TMP/c13.json" O
[[ "$(tr -d ' ' <<<"$JV")" == 1048576 ]] && pass || fail "stdin delivered: $(cat "$TMP/c13.json")"
check_exit_line "$(jget "$TMP/c13.json" X)" 0 0
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"

new_id; ST="$TMP/state-$ID"
B13B="$(make_bundle c13b sh -c 'seq 1 1000000; echo end')"
launch_ok "$ID" "$B13B" "$ST"
INIT="$LAUNCH_OUT"
"$PYTHON" - "$ST" "$RUNC" "$ROOT" "$ID" <<'EOF2' || fail "a client that does not read blocked the container"
import os, socket, subprocess, sys, time
st, runc, root, cid = sys.argv[1:]
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(os.path.join(st, "shim.sock"))
s.sendall(b"ATTACH\n")
time.sleep(0.2)
subprocess.run([runc, "--root", root, "start", cid], check=True)
deadline = time.time() + 60
while not os.path.exists(os.path.join(st, "exit")):   # we read nothing meanwhile
    if time.time() > deadline:
        sys.exit("container did not finish while the attach client was not reading")
    time.sleep(0.05)
data = b""
while True:
    d = s.recv(1 << 20)
    if not d:
        break
    data += d
if b"X\x00\x00\x00" in data[-40:]:
    sys.exit("slow client was not dropped")
EOF2
pass
tail -c 200 "$ST/container.log" | grep -q ' stdout F end$' && pass || fail "output lost: $(tail -c 200 "$ST/container.log")"
no_strays "$ID" "$ST" "$INIT" "$SHIMPID"
"$RUNC" --root "$ROOT" delete "$ID"
log "case 13 ok"

# ================================================================= case 5
log "case 5: global check for leftovers"
for id in "${IDS[@]}"; do
    if pgrep -f -- "--id $id " >/dev/null; then fail "shim for $id still running"; fi
done
pass
for _ in $(seq 1 50); do Z="$(our_zombies)"; [[ -z "$Z" ]] && break; sleep 0.1; done
[[ -z "$Z" ]] && pass || fail "zombies: $Z"
LEFT="$("$RUNC" --root "$ROOT" list -q 2>/dev/null || true)"
[[ -z "$LEFT" ]] && pass || fail "containers left: $LEFT"
log "case 5 ok"
