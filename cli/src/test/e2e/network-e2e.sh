#!/usr/bin/env bash
# --network bridge, end to end through the CLI and the real CNI plugins: addresses in ps and /etc/hosts, containers
# reaching each other and the host reaching them, outbound NAT, published ports, addresses released on rm, and a
# bridge container that keeps its network across a SIGKILLed agent and still gives its address back afterwards.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -x /usr/lib/cni/bridge || -x /opt/cni/bin/bridge ]] || { echo "network e2e: no CNI plugins: run deploy/install-packages.sh" >&2; exit 1; }
leases=/var/lib/cni/networks/berth   # host-local's store for the network named berth
hport=$((20000 + RANDOM % 20000))     # a host port no other run is likely to hold
# containers removed through the agent, so that their addresses and rules go even when a check fails midway
net_cleanup() {
  [[ -n "$agent_pid" ]] && berth rm -f web client survivor hostnet >/dev/null 2>&1
  cleanup
}
trap net_cleanup EXIT
start_agent
berth images pull "$image" >/dev/null || { echo "pull failed"; exit 1; }
# eventually CMD...: true once CMD succeeds within 5 s (a removed task's network goes in the agent's background clean-up)
eventually() { for _ in $(seq 1 50); do "$@" && return 0; sleep 0.1; done; return 1; }
released() { eventually test ! -e "$leases/$1"; }
rules() { iptables -t nat -S | grep -c "$1"; }
no_rules() { [[ $(rules "$1") == 0 ]]; }
fetch() { curl -sS -m 3 "$1"; }                                           # from the host
fetch_in() { berth exec "$1" sh -c "timeout 3 wget -q -O /tmp/page '$2' && cat /tmp/page"; }  # this busybox's wget crashes on -O- and -T
addr() { berth ps -a | awk -v n="$1" '$1==n { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+(\.[0-9]+){3}$/) print $i }'; }
serve='mkdir -p /tmp/www && echo "hello from $(hostname)" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'

berth run -d --name web --network bridge -p "$hport:8080" "$image" sh -c "$serve" >/dev/null
berth run -d --name client --network bridge "$image" sleep 600 >/dev/null
web=$(addr web); client=$(addr client)
contains "ps shows the bridge address" "10.213." "$web"
contains "and the published port" "$hport->8080/tcp" "$(berth ps | grep '^web')"
[[ -n "$web" && -n "$client" && "$web" != "$client" ]]; check "two containers get two addresses" "0" "$?"
check "host-local holds each address" "yes yes" "$([[ -e $leases/$web ]] && echo yes) $([[ -e $leases/$client ]] && echo yes)"
check "/etc/hosts names the container by its address" "$web	web" "$(berth exec web grep web /etc/hosts)"
out=$(berth exec client ping -c1 -W2 "$web" >/dev/null 2>&1; echo $?); check "one container pings another by address" "0" "$out"
out=$(fetch_in client "http://$web:8080/"); check "and fetches from its port" "hello from web" "$out"
out=$(fetch "http://$web:8080/"); check "the host reaches a container's port by address" "hello from web" "$out"
out=$(fetch "http://127.0.0.1:$hport/"); check "a published port answers on the host's loopback" "hello from web" "$out"
hostip=$(ip -4 route get 1.1.1.1 2>/dev/null | grep -oE 'src [0-9.]+' | cut -d' ' -f2)
if [[ -n "$hostip" ]]; then
  out=$(fetch "http://$hostip:$hport/"); check "and on the host's own address" "hello from web" "$out"
fi
check "outbound traffic is masqueraded" "1" "$(iptables -t nat -S | grep berth-e2e-client- | grep -c MASQUERADE)"
gw=$(ip -4 route show default | awk '{print $3; exit}')
if [[ -n "$gw" ]] && busybox ping -c1 -W2 "$gw" >/dev/null 2>&1; then   # the host's gateway knows nothing of 10.213/16: only NAT gets an answer back
  out=$(berth exec client ping -c1 -W2 "$gw" >/dev/null 2>&1; echo $?); check "a container reaches beyond the host (NAT)" "0" "$out"
else
  echo "skip a container reaches beyond the host: the host's gateway does not answer ping"
fi
out=$(berth run --rm --network bridge -p "$hport:80" "$image" true 2>&1); rc=$?
check "a host port already published is refused" "125" "$rc"; contains "and says by whom" "already published by container web" "$out"
out=$(berth run --rm -p "$((hport + 1)):80" "$image" true 2>&1); contains "publishing needs the bridge" "needs --network bridge" "$out"

berth rm -f web >/dev/null
released "$web"; check "rm releases the address" "0" "$?"
eventually no_rules berth-e2e-web-; check "and removes its NAT and port rules" "0" "$(rules berth-e2e-web-)"
out=$(curl -s -m 2 "http://127.0.0.1:$hport/"); check "the published port is gone" "" "$out"

# a SIGKILLed agent: the bridge container keeps its network, and the restarted agent still releases it
berth run -d --name survivor --network bridge -p "$hport:8080" "$image" sh -c "$serve" >/dev/null
survivor=$(addr survivor)
kill -9 "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=""
out=$(fetch "http://$survivor:8080/"); check "with the agent dead, the container still answers" "hello from survivor" "$out"
start_agent
check "the restarted agent knows the address" "$survivor" "$(addr survivor)"
checked() { grep -q "checked the bridge networks of 2 tasks: 2 whole" "$work/agent.log"; }
eventually checked; check "and its CNI CHECK finds both networks whole" "0" "$?"
out=$(fetch_in client "http://$survivor:8080/"); check "containers still reach each other" "hello from survivor" "$out"
out=$(fetch "http://127.0.0.1:$hport/"); check "the published port still answers" "hello from survivor" "$out"
berth rm -f survivor client >/dev/null
released "$survivor"; check "rm after the restart releases the address" "0" "$?"
released "$client"; check "and the other's" "0" "$?"
eventually no_rules berth-e2e-; check "and every rule" "0" "$(rules berth-e2e-)"
unmounted() { ! grep -q " $work/state/networks/" /proc/self/mountinfo; }
eventually unmounted; check "and its network namespace" "0" "$?"

# what a host-network container reaches on the node's loopback (CVE-2020-15257's class)
out=$(berth run --rm --network host "$image" sh -c "wget -q -O /tmp/r http://$registry/v2/ 2>&1; echo rc=\$?" 2>&1)
contains "a host-network container gets 401 from the dev registry" "401" "$out"
# Kafka, raw: ApiVersions (which the SASL handshake needs, so any broker answers it) shows the container reaches the
# broker; Metadata v0 (every topic) unauthenticated gets nothing back from a broker that wants a login, a list of the
# node's topics from one that takes anyone (and then its Produce would take forged events as well)
kafka="${BERTH_KAFKA_BOOTSTRAP:-127.0.0.1:9092}"
kafka_ask() { berth run --rm --network host "$image" sh -c "printf '$1' | nc -w 3 ${kafka%:*} ${kafka##*:} | wc -c" 2>&1 | tr -d ' '; }
out=$(kafka_ask '\000\000\000\013\000\022\000\000\000\000\000\001\000\001x')
[[ "$out" =~ ^[0-9]+$ ]] && (( out > 0 )); check "a host-network container reaches Kafka on the node's loopback" "0" "$?"
out=$(kafka_ask '\000\000\000\017\000\003\000\000\000\000\000\001\000\001x\000\000\000\000')
check "but without logging in gets no answer to Metadata" "0" "$out"
berth run -d --name hostnet --network host "$image" sleep 600 >/dev/null
# abstract unix sockets live in the network namespace, so such a container could reach them: the agent and its shims
# have none (their sockets are files under the state dir, 0600, in a mount namespace the container does not share)
abstract=$(awk 'NR > 1 && $8 ~ /^@/ { print $7 }' /proc/net/unix | sort -u)
mine=$(for p in "$agent_pid" $(pgrep -f berth-shim); do ls -l "/proc/$p/fd" 2>/dev/null | grep -o 'socket:\[[0-9]*\]' | tr -dc '0-9\n'; done | sort -u)
check "the agent and its shims hold no abstract unix socket" "" "$(comm -12 <(echo "$abstract") <(echo "$mine") | grep . || true)"
berth rm -f hostnet >/dev/null

# errors, as the user sees them
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=""
start_agent BERTH_AGENT_CNI_PATH=/nonexistent
out=$(berth run --rm --network bridge "$image" true 2>&1); rc=$?
check "missing plugins fail the run" "125" "$rc"; contains "and name the package" "containernetworking-plugins" "$out"
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=""
start_agent BERTH_AGENT_BRIDGE_NAME=berth-name-too-long-for-linux
out=$(berth run --rm --network bridge "$image" true 2>&1); rc=$?
check "a plugin's failure fails the run" "125" "$rc"; contains "with the plugin's own message" "CNI plugin bridge ADD" "$out"
contains "and its error code" "CNI error code" "$out"
check "a failed ADD leaves no namespace behind" "" "$(ls "$work/state/networks/e2e" 2>/dev/null)"
finish
