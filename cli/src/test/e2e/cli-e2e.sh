#!/usr/bin/env bash
# The README's user journey, for real: a node agent on its own directories, the dev registry
# (deploy/dev-services.sh up), and every berth verb with its output and exit code checked.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_agent

out=$(berth images pull "$image" 2>&1); contains "images pull" "pulled sha256:" "$out"
out=$(berth images ls 2>&1); contains "images ls shows the image with its digest" "$image   sha256:" "$out"
out=$(berth run --rm "$image" echo hello 2>&1); check "run --rm echo" "hello" "$out"
berth run --rm "$image" sh -c 'exit 3'; check "run exits with the container's code" "3" "$?"
out=$(berth run --rm "$image" sh -c 'echo to-stderr >&2' 2>&1 >/dev/null); check "stderr goes to stderr" "to-stderr" "$out"
out=$(berth run -d --name web "$image" sh -c 'echo started; exec sleep 300'); check "run -d prints the name" "web" "$out"
out=$(berth ps); contains "ps lists the running container" "running (pid" "$out"
for _ in $(seq 1 50); do out=$(berth logs web); [[ $out == started ]] && break; sleep 0.1; done; check "logs" "started" "$out"
out=$(berth run -d --name web "$image" true 2>&1); rc=$?
check "name in use exits 125, as docker does" "125" "$rc"; contains "name in use says so" "already in use" "$out"
out=$(berth rm web 2>&1); contains "rm of a running container is refused" "is running" "$out"
out=$(berth stop -t 1 web); check "stop" "web" "$out"
out=$(berth ps -a); contains "a pid 1 that ignores SIGTERM is killed after the grace period" "exited (137)" "$out"
berth run -d --name polite "$image" sh -c 'trap "exit 0" TERM; while true; do sleep 0.1; done' >/dev/null
berth stop -t 30 polite >/dev/null
out=$(berth ps -a); contains "a container that handles SIGTERM exits on its own" "exited (0)" "$out"
berth rm polite >/dev/null
out=$(berth rm web); check "rm" "web" "$out"
out=$(berth ps -a | wc -l); check "nothing left after rm" "1" "$out"
out=$(berth logs web 2>&1); rc=$?; check "logs of unknown exits 1" "1" "$rc"; contains "unknown container named" "no container named 'web'" "$out"
out=$(berth images pull "$registry/test/absent:latest" 2>&1); contains "unknown image" "image not found" "$out"
out=$(berth images pull 127.0.0.1:1/test/busybox:latest 2>&1); contains "unreachable registry" "cannot reach registry 127.0.0.1:1" "$out"
out=$(berth run --rm "$image" /no/such 2>&1); rc=$?
check "run of a missing binary exits 125" "125" "$rc"; contains "and says why" "no such file or directory" "$out"
out=$(berth ps -a | wc -l); check "a failed run leaves no container" "1" "$out"
out=$(berth -n other images ls | wc -l); check "namespaces isolate images" "1" "$out"
out=$(berth run --rm -e GREETING=hi -w /tmp -u nobody "$image" sh -c 'echo $GREETING $(pwd) $(id -u)'); check "env, workdir, user" "hi /tmp 65534" "$out"
out=$(berth run --rm -e GREETING=hi "$image" env | cut -d= -f1 | sort | tr '\n' ' '); check "the container's environment is the image's and the request's only" "GREETING HOME PATH " "$out"
out=$(stat -c %a "$work/agent.sock"); check "socket mode" "600" "$out"

# image management
digest=$(berth images ls | awk -v i="$image" '$1==i {print $2}')
out=$(berth images pull "$registry/test/busybox@$digest"); contains "pull by digest" "pulled $digest" "$out"
out=$(berth run --rm "$registry/test/busybox@$digest" echo by-digest); check "run by digest" "by-digest" "$out"
berth images rm "$registry/test/busybox@$digest" >/dev/null
out=$(berth images inspect "$image"); contains "inspect shows the config" '"Cmd"' "$out"; contains "inspect shows layers" '"layers"' "$out"
out=$(berth images tag "$image" "$registry/test/renamed:v1"); check "tag prints the new name" "$registry/test/renamed:v1" "$out"
out=$(berth images ls); contains "the tag is listed" "$registry/test/renamed:v1" "$out"
out=$(berth images pull --platform linux/arm64 "$image" 2>&1); contains "a missing platform says which exist" "has no manifest for platform linux/arm64" "$out"
out=$(berth snapshots ls); contains "snapshots ls shows committed layers" "committed" "$out"
out=$(berth snapshots usage); contains "snapshots usage totals" "total" "$out"
layer=$(berth images inspect "$image" | grep -o 'sha256:[0-9a-f]\{64\}' | sed -n 3p)
out=$(berth content rm "$layer" 2>&1); contains "content an image uses is kept" "used by an image" "$out"
berth images rm "$registry/test/renamed:v1" >/dev/null
berth images export -o "$work/busybox.tar" "$image"; check "export exits 0" "0" "$?"
out=$(tar -tf "$work/busybox.tar" | sort | tr '\n' ' '); contains "the archive is an OCI layout" "index.json" "$out"; contains "with docker's manifest.json" "manifest.json" "$out"
out=$(berth -n imported images import "$work/busybox.tar"); contains "import names the image" "imported $image" "$out"
out=$(berth -n imported run --rm "$image" echo from-archive); check "an imported image runs" "from-archive" "$out"
out=$(berth -n imported images rm "$image")
printf 'not a tar' > "$work/junk.tar"; out=$(berth images import "$work/junk.tar" 2>&1); rc=$?
check "importing junk fails" "1" "$rc"; contains "and says it is not an image archive" "not an image archive" "$out"
before=$(berth content ls | wc -l)
berth images rm "$image" >/dev/null
out=$(berth images ls | wc -l); check "images rm removes the image" "1" "$out"
out=$(berth content ls | wc -l); check "images rm frees its content" "1" "$out"
out=$(berth snapshots ls | wc -l); check "and its snapshots" "1" "$out"
out=$(berth images gc); contains "gc reports" "removed 0 blobs" "$out"
(( before > 1 )) && passes=$((passes+1)) || { fails=$((fails+1)); echo "FAIL content was listed before rm"; }

finish
