#!/usr/bin/env bash
# The runtime's promises, end to end through the CLI: exec, stdin and terminals, pause, limits seen from inside,
# OOM verdicts, restart policies, log rotation and timestamps, and containers that outlive a SIGKILLed agent.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unpatched=$(/usr/sbin/runc --version | grep -c '^runc version 1\.[01]\.')
if (( unpatched )); then
  # this machine's runc predates the container-escape fixes: an agent that may not run it says so and stops
  out=$(BERTH_ROOT="$work/refused/root" BERTH_STATE="$work/refused/state" BERTH_SOCKET="$work/refused.sock" BERTH_AGENT_HTTP_PORT=0 \
    BERTH_ALLOW_UNPATCHED_RUNTIME=false timeout 60 "$repo/bin/berth-agent" 2>&1); rc=$?
  check "an agent refuses a runc without the 2025 escape fixes" "1" "$(( rc != 0 && rc != 124 ))"
  contains "naming the CVEs" "CVE-2025-31133" "$out"; contains "and the setting that allows it" "berth.agent.allow-unpatched-runtime" "$out"
fi
start_agent BERTH_AGENT_LOG_MAX_BYTES=4096 BERTH_AGENT_LOG_MAX_FILES=3
(( unpatched )) && contains "a checkout's agent runs it with a warning" "started anyway" "$(cat "$work/agent.log")"
berth images pull "$image" >/dev/null || { echo "pull failed"; exit 1; }

# exec, with exit codes, both streams, stdin
berth run -d --name box "$image" sleep 600 >/dev/null
out=$(berth exec box sh -c 'echo out; echo err >&2; exit 7' 2>"$work/err"); rc=$?
check "exec exits with the process's code" "7" "$rc"; check "exec stdout" "out" "$out"; check "exec stderr" "err" "$(cat "$work/err")"
out=$(echo through-stdin | berth exec -i box cat); check "exec -i passes stdin" "through-stdin" "$out"
# an exec that ends at once is told its exit (its record may go the moment it ends)
rcs=""; for _ in $(seq 1 20); do berth exec box true 2>>"$work/err"; rcs+="$?"; done
check "twenty quick execs each exit 0" "00000000000000000000" "$rcs"
out=$(berth exec -u nobody box id -u); check "exec -u resolves the image's users" "65534" "$out"
out=$(berth exec box /no/such 2>&1); rc=$?; check "exec of a missing binary fails" "125" "$rc"; contains "and says why" "no such file" "$out"
for _ in $(seq 1 50); do [[ -z "$(find "$work/state" -path '*/box/exec-*' 2>/dev/null)" ]] && break; sleep 0.1; done
check "finished execs leave no files in the task" "" "$(find "$work/state" -path '*/box/exec-*' 2>/dev/null)"
out=$(echo piped | berth run --rm -i "$image" cat); check "run -i passes stdin" "piped" "$out"
out=$(head -c 33554432 /dev/zero | berth run --rm -i "$image" sh -c 'sleep 1; wc -c'); check "run -i passes 32 MiB of stdin to a slow reader, all of it" "33554432" "$(echo $out)"
out=$(printf 'echo hi-from-tty; exit 5\n' | script -qec "$repo/bin/berth run -it --rm $image sh" /dev/null); rc=$?
check "run -it gives an interactive shell" "5" "$rc"; contains "that echoes through the terminal" "hi-from-tty" "$out"
out=$(berth run --rm -t "$image" sh -c 'test -t 1 && echo has-tty' | tr -d '\r'); check "run -t gives a terminal" "has-tty" "$out"

# a foreground run passes Ctrl-C on to the container (job control on, so the background CLI does not ignore SIGINT)
set -m
"$repo/bin/berth" run --rm "$image" sh -c 'trap "echo got-int; exit 7" INT; echo ready; while :; do sleep 0.1; done' >"$work/sig.out" 2>&1 &
cli=$!
set +m
for _ in $(seq 1 100); do grep -q ready "$work/sig.out" 2>/dev/null && break; sleep 0.1; done
kill -INT "$cli"; wait "$cli"; rc=$?
check "Ctrl-C on a foreground run reaches the container" "7" "$rc"; contains "whose trap ran" "got-int" "$(cat "$work/sig.out")"

# pause, processes
berth pause box >/dev/null; out=$(berth ps); contains "pause" "paused" "$out"
out=$(timeout 5 "$repo/bin/berth" exec box true 2>&1); contains "exec into a paused container is refused" "not running" "$out"
berth unpause box >/dev/null; out=$(berth ps); contains "unpause" "running (pid" "$out"
out=$(berth top box); contains "top lists the container's processes" "sleep 600" "$out"
out=$(berth stats box); contains "stats reports the container" "box" "$out"

# what the container gets
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then   # cgroup v2
  limits='cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max'; mem=/sys/fs/cgroup/memory.max
else                                                 # cgroup v1
  limits='cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us'
  mem=/sys/fs/cgroup/memory/memory.limit_in_bytes
fi
out=$(berth run --rm --memory 32m --pids-limit 20 --cpus 0.5 "$image" sh -c "$limits" | tr '\n' ' ')
check "limits are visible inside the container" "33554432 20 50000 100000 " "$out"
berth update --memory 48m box >/dev/null; out=$(berth exec box cat $mem); check "update changes a live limit" "50331648" "$out"
out=$(berth run --rm --hostname myhost "$image" sh -c 'cat /etc/hostname; grep -c myhost /etc/hosts'| tr '\n' ' '); check "hostname and /etc/hosts" "myhost 1 " "$out"
mkdir -p "$work/vol"; echo on-host > "$work/vol/f"
out=$(berth run --rm -v "$work/vol:/data" "$image" sh -c 'cat /data/f; echo from-container > /data/g'); check "bind mount reads" "on-host" "$out"
check "bind mount writes" "from-container" "$(cat "$work/vol/g" 2>/dev/null)"
out=$(berth run --rm -v "$work/vol:/data:ro" "$image" sh -c 'echo x > /data/h' 2>&1); contains "read-only bind mount" "Read-only file system" "$out"
out=$(berth run --rm --tmpfs /scratch:size=1m "$image" sh -c 'grep " /scratch " /proc/mounts'); contains "tmpfs mount" "size=1024k" "$out"
out=$(berth run --rm "$image" unshare -U true 2>&1); rc=$?; check "seccomp refuses new user namespaces" "1" "$rc"
out=$(berth run --rm -v /no/such:/x "$image" true 2>&1); rc=$?; check "a missing bind source is refused" "125" "$rc"; contains "and named" "/no/such does not exist" "$out"
out=$(berth run --rm --runtime nope "$image" true 2>&1); contains "an unknown runtime is refused" "unknown runtime 'nope'" "$out"
out=$(berth run --rm --runtime crun "$image" echo via-crun 2>&1)
if [[ -f /sys/fs/cgroup/unified/cgroup.controllers ]]; then contains "crun is refused on hybrid cgroups, saying why" "hybrid cgroup layout" "$out"
else check "crun runs containers" "via-crun" "$out"; fi

# OOM
out=$(berth run --name hog --memory 16m "$image" dd if=/dev/zero of=/dev/null bs=64M count=1 2>&1); rc=$?
check "an OOM-killed container exits 137" "137" "$rc"; contains "and run says it was the memory limit" "OOM" "$out"
out=$(berth ps -a); contains "ps shows the OOM verdict" "exited (137) OOM-killed" "$out"
berth rm hog >/dev/null

# restart policies
berth run -d --name flaky --restart on-failure:2 "$image" sh -c 'echo attempt; exit 1' >/dev/null
for _ in $(seq 1 50); do [[ "$(berth ps -a)" == *"restarted 2x"* ]] && break; sleep 0.2; done; sleep 0.5
out=$(berth ps -a | grep flaky); contains "on-failure:2 restarts twice, then stops" "exited (1), restarted 2x" "$out"
check "each run's output is kept" "3" "$(berth logs flaky | grep -c attempt)"
berth start flaky >/dev/null
for _ in $(seq 1 50); do [[ "$(berth logs flaky | grep -c attempt)" == 6 && "$(berth ps -a)" == *"exited (1), restarted 2x"* ]] && break; sleep 0.2; done; sleep 0.5
check "start runs an exited container again, its policy counting from zero" "6" "$(berth logs flaky | grep -c attempt)"
berth run -d --name waiter "$image" sh -c 'sleep 0.5; exit 4' >/dev/null
check "wait prints the exit code" "4" "$(berth wait waiter)"
berth run -d --name again "$image" sleep 600 >/dev/null
pid1=$(berth ps | grep again | sed 's/.*pid \([0-9]*\).*/\1/'); berth restart -t 1 again >/dev/null
pid2=$(berth ps | grep again | sed 's/.*pid \([0-9]*\).*/\1/')
check "restart runs it again, as a new process" "yes" "$([[ -n "$pid2" && "$pid1" != "$pid2" ]] && echo yes || echo "no ($pid1 -> $pid2)")"
berth rm -f waiter again >/dev/null
berth run -d --name steady --restart always "$image" sh -c 'sleep 0.3; exit 0' >/dev/null
sleep 2; berth stop -t 1 steady >/dev/null; n1=$(berth logs steady | wc -l); sleep 1.5
out=$(berth ps -a | grep steady); contains "always restarts, until stopped by its user" "restarted" "$out"; contains "then it stays stopped" "exited" "$out"

berth run -d --name looper --restart always "$image" false >/dev/null; sleep 2.5
looper_restarts() { n=$(berth ps -a | grep looper | grep -o 'restarted [0-9]*' | grep -o '[0-9]*'); echo "${n:-0}"; }
n=$(looper_restarts)
# at most 7 by now (without backoff it would be dozens); and it does keep restarting (a loaded machine may be slower)
for _ in $(seq 1 50); do (( $(looper_restarts) >= 3 )) && break; sleep 0.1; done
(( n <= 7 && $(looper_restarts) >= 3 )) && { passes=$((passes+1)); echo "ok   a crash loop backs off (100 ms doubling: $n restarts in 2.5 s)"; } || { fails=$((fails+1)); echo "FAIL backoff: $n restarts in 2.5 s, $(looper_restarts) later"; }
berth stop -t 1 looper >/dev/null; sleep 0.2; m=$(berth ps -a | grep looper | grep -o 'restarted [0-9]*'); sleep 3
check "stop cancels a restart that is due" "$m" "$(berth ps -a | grep looper | grep -o 'restarted [0-9]*')"

# logs: rotation, timestamps, since
berth run --name chatty "$image" sh -c 'i=0; while [ $i -lt 1000 ]; do echo "line $i padding-padding"; i=$((i+1)); done' >/dev/null
files=$(ls "$work/root/logs/e2e/chatty" | sort | tr '\n' ' '); check "logs rotate into at most 3 files" "container.log container.log.1 container.log.2 " "$files"
big=$(find "$work/root/logs/e2e/chatty" -size +5k | wc -l); check "no log file grows past the limit" "0" "$big"
out=$(berth logs chatty | tail -1); check "the newest line survives rotation" "line 999 padding-padding" "$out"
out=$(berth logs chatty | awk '{print $2}' | sort -n -c && echo ordered); check "kept lines are in order" "ordered" "$out"
out=$(berth logs --timestamps chatty | tail -1); contains "logs --timestamps" "$(date -u +%Y-%m-%dT)" "$out"
out=$(berth logs --tail 2 chatty | wc -l); check "logs --tail" "2" "$out"
out=$(berth logs --tail 0 chatty | wc -l); check "logs --tail 0 prints nothing stored, as docker does" "0" "$out"
sleep 1.2; out=$(berth logs --since 1s chatty | wc -l); check "logs --since leaves out older lines" "0" "$out"

# survival: the agent is SIGKILLed with containers running and exiting; they carry on and are told truly
berth run -d --name ticker "$image" sh -c 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done' >/dev/null
berth run -d --name late "$image" sh -c 'sleep 1; exit 42' >/dev/null
berth run -d --name phoenix --restart always "$image" sh -c 'sleep 1; exit 3' >/dev/null
sleep 0.3
kill -9 "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=""
before=$(grep -c tick "$work/root/logs/e2e/ticker/container.log")
sleep 2.5
after=$(grep -c tick "$work/root/logs/e2e/ticker/container.log")
(( after > before + 10 )) && { passes=$((passes+1)); echo "ok   logs keep flowing while the agent is down"; } || { fails=$((fails+1)); echo "FAIL logs stopped with the agent ($before -> $after)"; }
shims=" $(pgrep -f "berth-shim --id .* --state $work/" | tr '\n' ' ') "
zombies=$(ps -eo stat=,ppid= | awk -v s="$shims" '$1 ~ /^Z/ && index(s, " " $2 " ")' | wc -l)
check "no zombies under the shims while the agent is down" "0" "$zombies"
start_agent BERTH_AGENT_LOG_MAX_BYTES=4096 BERTH_AGENT_LOG_MAX_FILES=3
out=$(berth ps -a | grep late); contains "an exit during the downtime is reported truly" "exited (42)" "$out"
out=$(berth ps | grep ticker); contains "a running container is still running" "running" "$out"
for _ in $(seq 1 100); do out=$(berth ps -a | grep phoenix); [[ $out == *restarted* ]] && break; sleep 0.1; done
contains "a restart due during the downtime happens after it" "restarted" "$out"
seen=""; for _ in $(seq 1 15); do seen+=$(berth ps -a | grep phoenix | grep -ow created); done
check "through its restarts the container is never without a task" "" "$seen"
# it restarts every second: a list can fall between one run's delete and the next's create (or fail to load the one
# going away), so take the most instances seen over several lists; never two
n=0; for _ in $(seq 1 10); do
  if l=$(runc --root "$work/state/runc/e2e" list 2>/dev/null); then c=$(grep -c phoenix <<<"$l"); (( c > n )) && n=$c; fi; sleep 0.1
done
check "and the container runs once" "1" "$n"
berth rm -f ticker late phoenix box flaky steady chatty looper >/dev/null
finish
