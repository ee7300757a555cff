#!/usr/bin/env bash
# deploy/dev-services.sh - start the real backing services Berth's tests and
# demo need, on loopback only, and report what is running.
#
#   deploy/dev-services.sh [up]     start whatever is not already answering (idempotent)
#   deploy/dev-services.sh status   one line per service; exit 3 if any is down
#   deploy/dev-services.sh down     stop what this script started (never a reused service)
#
# Services:
#   postgres   127.0.0.1:5432  reuses anything answering pg_isready; otherwise
#                              installs Debian's postgresql and starts (or creates)
#                              a Debian cluster on 5432 with pg_ctlcluster.
#                              Ensures role berth/berth owning database berth.
#                              jdbc:postgresql://127.0.0.1:5432/berth
#   kafka      127.0.0.1:9092  single-node KRaft broker+controller (controller on
#                              127.0.0.1:9093), jars from Maven Central via
#                              deploy/kafka/pom.xml. Both listeners authenticate
#                              (SASL: clients SCRAM-SHA-256 as user berth, the
#                              controller PLAIN); the clients' settings are in
#                              deploy/.state/kafka/auth/client.properties (0600),
#                              the standard Kafka client format (--command-config).
#   registry   127.0.0.1:5000  Debian's docker-registry (distribution 2.x) with its
#                              own config: filesystem storage, delete enabled, one
#                              htpasswd account made at first start (a host-network
#                              container shares loopback: it must not push images).
#                              Its credentials: deploy/.state/registry/auth/ (0600):
#                              auth.json (Docker config.json), userpass (USER:PASSWORD);
#                              deploy/lib/dev-credentials.sh reads them.
#   seed       runs deploy/seed-images.sh 127.0.0.1:5000 (if present and
#              executable) after the registry is up, on every `up`.
#
# All state (data, logs, pid files, jars) lives in deploy/.state/:
#   kafka/kafka.log, registry/registry.log, seed-images.log, apt.log, kafka/mvn.log
# Kafka console tools (quiet logging):
#   java -Dlog4j2.configurationFile=deploy/.state/kafka/tools-log4j2.properties \
#     -cp 'deploy/.state/kafka/lib/*' org.apache.kafka.tools.ConsoleProducer \
#     --bootstrap-server 127.0.0.1:9092 --command-config deploy/.state/kafka/auth/client.properties --topic t
#   (also ...tools.consumer.ConsoleConsumer, ...tools.TopicCommand)
# Needs root or sudo only to apt-get install missing packages and to start a
# Debian Postgres cluster.
#
# Environment (optional):
#   BERTH_PG_PORT / BERTH_KAFKA_PORT / BERTH_KAFKA_CONTROLLER_PORT /
#   BERTH_REGISTRY_PORT   override the ports (defaults 5432/9092/9093/5000)
#   BERTH_KAFKA_HEAP      broker heap flags (default "-Xms256m -Xmx512m")
#   BERTH_SKIP_SEED=1     do not run deploy/seed-images.sh
#   BERTH_SEED_SCRIPT     use another seed script (default deploy/seed-images.sh)
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
SELF="$DEPLOY_DIR/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$DEPLOY_DIR/.." && pwd -P)"
STATE="$DEPLOY_DIR/.state"

HOST=127.0.0.1
PG_PORT="${BERTH_PG_PORT:-5432}"
PG_DB=berth
PG_USER=berth
PG_PASSWORD=berth
KAFKA_PORT="${BERTH_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${BERTH_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${BERTH_KAFKA_HEAP:--Xms256m -Xmx512m}"
REGISTRY_PORT="${BERTH_REGISTRY_PORT:-5000}"
SEED_SCRIPT="${BERTH_SEED_SCRIPT:-$DEPLOY_DIR/seed-images.sh}"

KAFKA_POM="$DEPLOY_DIR/kafka/pom.xml"
KAFKA_DIR="$STATE/kafka"
KAFKA_LIB="$KAFKA_DIR/lib"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_AUTH="$KAFKA_DIR/auth"
REG_DIR="$STATE/registry"
REG_PID="$REG_DIR/registry.pid"
REG_LOG="$REG_DIR/registry.log"
PG_DIR="$STATE/postgres"
PG_STARTED="$PG_DIR/started-cluster.$PG_PORT"   # "<version> <cluster>" when we started a Debian cluster
APT_LOG="$STATE/apt.log"

START_TIMEOUT=60

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
APT_UPDATED=0

# ---------------------------------------------------------------- helpers ---

rel() { local p="$1"; echo "${p#"$REPO_ROOT"/}"; }
note() { echo "  .. $*" >&2; }                     # progress, to stderr
line() { printf '%-10s %-15s %s\n' "$1" "$2" "$3"; }  # the report, to stdout
# fail <service> <address> <message...>: report and exit (the service subshell)
fail() { local s="$1" a="$2"; shift 2; line "$s" "$a" "FAILED: $*"; exit 1; }

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# pid_alive <pidfile> <cmdline-substring>: true if the pid in the file is alive and
# really is our process; removes a stale pid file.
pid_alive() {
  local f="$1" pat="$2" pid
  [ -s "$f" ] || return 1
  pid="$(cat "$f")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
     tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$pat"; then
    return 0
  fi
  rm -f "$f"
  return 1
}

# stop_pid <pidfile> <cmdline-substring> <seconds>: TERM, wait, then KILL.
stop_pid() {
  local f="$1" pat="$2" secs="$3" pid i
  pid_alive "$f" "$pat" || return 0
  pid="$(cat "$f")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    note "pid $pid did not stop in ${secs}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$f"
}

# other_checkout_pids <our pidfile> <config path suffix> <cmdline regex>: pids of processes, not ours, whose command
# line names that config of a Berth checkout (another checkout's dev service on our port)
other_checkout_pids() {
  local ours="$1" needle="$2" pattern="$3" f pid
  while read -r f; do
    pid="${f#/proc/}"; pid="${pid%/cmdline}"
    [ "$pid" = "$(cat "$ours" 2>/dev/null)" ] && continue
    tr '\0' ' ' 2>/dev/null <"$f" | grep -q -- "$pattern" && echo "$pid"
  done < <(grep -lsaF -- "$needle" /proc/[0-9]*/cmdline 2>/dev/null || true)
  return 0
}

# start_bg <pidfile> <logfile> <workdir> cmd...: start detached (own session),
# write the real pid of cmd to pidfile.
start_bg() {
  local pidf="$1" log="$2" wd="$3"; shift 3
  [ -f "$log" ] && mv -f "$log" "$log.prev"
  # shellcheck disable=SC2016  # $$/$0/$@ are expanded by the inner bash
  (cd "$wd" && exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@") \
    </dev/null >>"$log" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do [ -s "$pidf" ] && return 0; sleep 0.1; done
  return 1
}

# wait_until <seconds> <pidfile> <pattern> cmd...: poll cmd until it succeeds;
# give up early if the process behind pidfile died.
wait_until() {
  local secs="$1" pidf="$2" pat="$3"; shift 3
  local end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    "$@" && return 0
    pid_alive "$pidf" "$pat" || { "$@" && return 0; return 2; }
    sleep 0.5
  done
  return 1
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

# ensure_pkgs pkg...: apt-get install what is missing (apt-get update once, only if needed)
ensure_pkgs() {
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "apt-get not found; install: ${missing[*]}" >&2; return 1; }
  if [ ${#SUDO[@]} -gt 0 ] && ! command -v sudo >/dev/null; then
    echo "need root (or sudo) to install: ${missing[*]}" >&2; return 1
  fi
  if [ "$APT_UPDATED" -eq 0 ]; then
    note "apt-get update"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q \
      >>"$APT_LOG" 2>&1 ||
      { tail -n 20 "$APT_LOG" >&2; echo "apt-get update failed (log: $(rel "$APT_LOG"))" >&2; return 1; }
    APT_UPDATED=1
  fi
  note "apt-get install ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
    install -y -q --no-install-recommends "${missing[@]}" >>"$APT_LOG" 2>&1 ||
    { tail -n 20 "$APT_LOG" >&2; echo "apt-get install ${missing[*]} failed (log: $(rel "$APT_LOG"))" >&2; return 1; }
}

# cd /: the postgres user may not be able to enter the caller's directory
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && sudo -u postgres -- "$@"); fi
}

# --------------------------------------------------------------- postgres ---

PG_ADDR="$HOST:$PG_PORT"
JDBC_URL="jdbc:postgresql://$HOST:$PG_PORT/$PG_DB"

pg_ready() { pg_isready -q -h "$HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }
pg_berth_ok() {
  PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=3 psql -X -q -w -h "$HOST" -p "$PG_PORT" \
    -U "$PG_USER" -d "$PG_DB" -Atc 'select 1' >/dev/null 2>&1
}

# Run SQL as a superuser: postgres via the unix socket (Debian default), else
# postgres / current user over TCP (works with trust auth).
pg_super() {
  if id postgres >/dev/null 2>&1 &&
     as_postgres psql -X -q -w -p "$PG_PORT" -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    as_postgres psql -X -q -w -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres -At "$@"
  elif psql -X -q -w -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    psql -X -q -w -v ON_ERROR_STOP=1 -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -At "$@"
  elif psql -X -q -w -h "$HOST" -p "$PG_PORT" -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    psql -X -q -w -v ON_ERROR_STOP=1 -h "$HOST" -p "$PG_PORT" -d postgres -At "$@"
  else
    return 1
  fi
}

pg_ensure_db() {
  pg_berth_ok && return 0
  note "creating role $PG_USER / database $PG_DB"
  pg_super -c 'select 1' >/dev/null 2>&1 ||
    fail postgres "$PG_ADDR" "role $PG_USER/db $PG_DB missing and no superuser access (tried postgres via socket and TCP)"
  pg_super <<SQL >/dev/null || fail postgres "$PG_ADDR" "could not create role/database $PG_USER/$PG_DB"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SQL
  if [ "$(pg_super -c "select count(*) from pg_database where datname = '$PG_DB'")" = 0 ]; then
    pg_super -c "CREATE DATABASE $PG_DB OWNER $PG_USER" >/dev/null ||
      fail postgres "$PG_ADDR" "CREATE DATABASE $PG_DB failed"
  else
    pg_super -c "ALTER DATABASE $PG_DB OWNER TO $PG_USER" >/dev/null || true
  fi
  pg_berth_ok || fail postgres "$PG_ADDR" "role/db created but '$PG_USER' still cannot log in over TCP (check pg_hba.conf)"
}

pg_up() {
  local how
  if pg_ready; then
    if [ -s "$PG_STARTED" ]; then how="up (ours: cluster $(tr ' ' / <"$PG_STARTED"))"; else how="up (reused)"; fi
  else
    if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
      ensure_pkgs postgresql || fail postgres "$PG_ADDR" "cannot install postgresql"
    fi
    local ver name
    read -r ver name < <(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2; exit }') || true
    if [ -z "${ver:-}" ]; then
      ver="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)"
      name=main
      pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" { f = 1 } END { exit !f }' && name=berth
      note "pg_createcluster $ver $name --port $PG_PORT"
      "${SUDO[@]}" pg_createcluster "$ver" "$name" --port "$PG_PORT" >>"$PG_DIR/postgres.log" 2>&1 ||
        fail postgres "$PG_ADDR" "pg_createcluster $ver $name failed (log: $(rel "$PG_DIR/postgres.log"))"
    fi
    note "pg_ctlcluster $ver $name start"
    local end=$((SECONDS + START_TIMEOUT))
    # non-zero also when it is already running (e.g. apt just auto-started it): then wait briefly
    "${SUDO[@]}" pg_ctlcluster "$ver" "$name" start >>"$PG_DIR/postgres.log" 2>&1 || end=$((SECONDS + 5))
    until pg_ready; do
      if ((SECONDS >= end)); then
        tail -n 20 "/var/log/postgresql/postgresql-$ver-$name.log" >&2 2>/dev/null || true
        tail -n 5 "$PG_DIR/postgres.log" >&2 || true
        fail postgres "$PG_ADDR" "cluster $ver/$name did not start (logs: $(rel "$PG_DIR/postgres.log"), /var/log/postgresql/postgresql-$ver-$name.log)"
      fi
      sleep 0.5
    done
    echo "$ver $name" >"$PG_STARTED"
    how="up (started cluster $ver/$name)"
  fi
  pg_ensure_db
  line postgres "$PG_ADDR" "$how  $JDBC_URL user=$PG_USER password=$PG_PASSWORD"
}

pg_down() {
  if [ -s "$PG_STARTED" ]; then
    local ver name
    read -r ver name <"$PG_STARTED"
    "${SUDO[@]}" pg_ctlcluster "$ver" "$name" stop >>"$PG_DIR/postgres.log" 2>&1 || true
    rm -f "$PG_STARTED"
    line postgres "$PG_ADDR" "stopped (cluster $ver/$name)"
  elif pg_ready; then
    line postgres "$PG_ADDR" "left running (reused, not ours)"
  else
    line postgres "$PG_ADDR" "down"
  fi
}

pg_status() {
  if pg_ready; then
    local who="reused" db="db ok"
    [ -s "$PG_STARTED" ] && who="ours: cluster $(tr ' ' / <"$PG_STARTED")"
    pg_berth_ok || db="role/db $PG_USER missing - run up"
    line postgres "$PG_ADDR" "up ($who)  $JDBC_URL  $db"
  else
    line postgres "$PG_ADDR" "down"; return 1
  fi
}

# ------------------------------------------------------------------ kafka ---

KAFKA_ADDR="$HOST:$KAFKA_PORT"
KAFKA_MATCH="kafka.Kafka $KAFKA_DIR/server.properties"

JAVA=""
find_java() {
  local c v
  for c in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    if [ -z "$c" ] || [ ! -x "$c" ]; then continue; fi
    v="$("$c" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ { print $2 }')"
    if [ "${v%%.*}" -ge 17 ] 2>/dev/null; then JAVA="$c"; return 0; fi
  done
  return 1
}

kafka_jars() {
  local want
  want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  if [ -f "$KAFKA_LIB/.complete" ] && [ "$(cat "$KAFKA_LIB/.complete")" = "$want" ]; then return 0; fi
  command -v mvn >/dev/null || ensure_pkgs maven || return 1
  note "fetching Kafka jars from Maven Central (mvn dependency:copy-dependencies)"
  rm -rf "$KAFKA_LIB"
  # outputDirectory must be absolute: a relative one resolves against the pom's dir
  if ! JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$JAVA")")")" \
       mvn -q -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
       -DoutputDirectory="$KAFKA_LIB" >"$KAFKA_DIR/mvn.log" 2>&1; then
    tail -n 30 "$KAFKA_DIR/mvn.log" >&2
    echo "mvn failed (log: $(rel "$KAFKA_DIR/mvn.log"))" >&2
    return 1
  fi
  echo "$want" >"$KAFKA_LIB/.complete"
}

# The broker's accounts, made once (random passwords, 0600): "berth", the one client user (SCRAM-SHA-256, stored in
# the cluster metadata at format time), and "controller", for the broker's own calls to its controller (PLAIN, as
# KRaft controllers cannot read SCRAM credentials from the log they serve). client.properties is what a Berth client
# (agent, scheduler-api, tests, console tools) adds to its Kafka settings: $BERTH_KAFKA_CLIENT_PROPERTIES names it.
kafka_credentials() {
  [ -s "$KAFKA_AUTH/password" ] && [ -s "$KAFKA_AUTH/controller-password" ] && [ -s "$KAFKA_AUTH/client.properties" ] && return 0
  (umask 077 && mkdir -p "$KAFKA_AUTH" &&
    head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$KAFKA_AUTH/password" &&
    head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$KAFKA_AUTH/controller-password" &&
    cat >"$KAFKA_AUTH/client.properties" <<EOF
# Written by deploy/dev-services.sh: how a client logs in to the dev broker ($KAFKA_ADDR). Secret: keep 0600.
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="berth" password="$(cat "$KAFKA_AUTH/password")";
EOF
  )
  chmod 0700 "$KAFKA_AUTH"
}

kafka_config() {
  local pass cpass
  pass="$(cat "$KAFKA_AUTH/password")"
  cpass="$(cat "$KAFKA_AUTH/controller-password")"
  (umask 077 && cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by deploy/dev-services.sh - single-node KRaft broker+controller for dev/tests. Holds secrets (0600).
# Every listener authenticates: a host-network container shares loopback, so "127.0.0.1 only" is no protection.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=SASL_PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="berth" password="$pass";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="$cpass" user_controller="$cpass";
log.dirs=$KAFKA_DIR/data
auto.create.topics.enable=true
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
delete.topic.enable=true
log.retention.hours=24
EOF
  )
  cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
EOF
  # quiet config for the console tools, e.g.
  #   java -Dlog4j2.configurationFile=deploy/.state/kafka/tools-log4j2.properties \
  #     -cp 'deploy/.state/kafka/lib/*' org.apache.kafka.tools.ConsoleProducer ...
  cat >"$KAFKA_DIR/tools-log4j2.properties" <<'EOF'
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %p %m%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
EOF
}

# pids of a Kafka broker serving a Berth dev config of another checkout (deploy/.state/kafka/server.properties)
other_berth_kafka_pids() {
  other_checkout_pids "$KAFKA_PID" /deploy/.state/kafka/server.properties " kafka\.Kafka .*/deploy/\.state/kafka/server\.properties"
}

kafka_authenticates() { grep -q '^sasl.enabled.mechanisms=' "$KAFKA_DIR/server.properties" 2>/dev/null; }

KAFKA_UP_LINE="bootstrap.servers=$KAFKA_ADDR, login: $(rel "$KAFKA_AUTH/client.properties")"

kafka_up() {
  kafka_credentials
  if port_open "$HOST" "$KAFKA_PORT" && pid_alive "$KAFKA_PID" "$KAFKA_MATCH"; then
    if kafka_authenticates; then
      line kafka "$KAFKA_ADDR" "up (ours, pid $(cat "$KAFKA_PID"))  $KAFKA_UP_LINE"
      return 0
    fi
    note "our broker accepts anyone (started before it had accounts): restarting it with them"
    stop_pid "$KAFKA_PID" "$KAFKA_MATCH" 30
  fi
  if port_open "$HOST" "$KAFKA_PORT" && ! pid_alive "$KAFKA_PID" "$KAFKA_MATCH"; then
    local others i
    others="$(other_berth_kafka_pids)"
    if [ -n "$others" ]; then
      note "stopping the dev broker of another Berth checkout on :$KAFKA_PORT (pid $others)"
      # shellcheck disable=SC2086
      kill $others 2>/dev/null || true
      for ((i = 0; i < 150; i++)); do
        port_open "$HOST" "$KAFKA_PORT" || port_open "$HOST" "$KAFKA_CONTROLLER_PORT" || break
        sleep 0.2
      done
    fi
    port_open "$HOST" "$KAFKA_PORT" &&
      fail kafka "$KAFKA_ADDR" "port $KAFKA_PORT is taken by something that is not this checkout's dev broker (Berth's clients log in with SCRAM); stop it or set BERTH_KAFKA_PORT"
  fi
  mkdir -p "$KAFKA_DIR/data"
  chmod 0700 "$KAFKA_DIR"
  if ! pid_alive "$KAFKA_PID" "$KAFKA_MATCH"; then   # else: a previous start is still booting
    if port_open "$HOST" "$KAFKA_CONTROLLER_PORT"; then
      fail kafka "$KAFKA_ADDR" "controller port $HOST:$KAFKA_CONTROLLER_PORT is taken by another process"
    fi
    find_java || { ensure_pkgs default-jre-headless && find_java; } ||
      fail kafka "$KAFKA_ADDR" "no Java >= 17 found (install openjdk-17-jre-headless or newer)"
    kafka_jars || fail kafka "$KAFKA_ADDR" "could not fetch Kafka jars with Maven"
    kafka_config
    if [ -f "$KAFKA_DIR/data/meta.properties" ] && [ ! -f "$KAFKA_DIR/data/.berth-scram" ]; then
      note "the broker's storage was formatted without the client account: formatting it again (dev data is lost)"
      rm -rf "$KAFKA_DIR/data" && mkdir -p "$KAFKA_DIR/data"
    fi
    if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
      [ -s "$KAFKA_DIR/cluster.id" ] ||
        head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$KAFKA_DIR/cluster.id"
      note "formatting KRaft storage (cluster id $(cat "$KAFKA_DIR/cluster.id"))"
      (cd "$KAFKA_DIR" && "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
          -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format --standalone --ignore-formatted \
          -t "$(cat "$KAFKA_DIR/cluster.id")" -c "$KAFKA_DIR/server.properties" \
          --add-scram "SCRAM-SHA-256=[name=berth,password=$(cat "$KAFKA_AUTH/password")]") \
        >"$KAFKA_DIR/format.log" 2>&1 ||
        { tail -n 20 "$KAFKA_DIR/format.log" >&2
          fail kafka "$KAFKA_ADDR" "kafka-storage format failed (log: $(rel "$KAFKA_DIR/format.log"))"; }
      touch "$KAFKA_DIR/data/.berth-scram"
    fi
    note "starting Kafka broker"
    # shellcheck disable=SC2086  # KAFKA_HEAP is a list of JVM flags
    start_bg "$KAFKA_PID" "$KAFKA_LOG" "$KAFKA_DIR" \
      "$JAVA" $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
      -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_DIR/server.properties" ||
      fail kafka "$KAFKA_ADDR" "could not launch java"
  fi
  local rc=0
  wait_until "$START_TIMEOUT" "$KAFKA_PID" "$KAFKA_MATCH" port_open "$HOST" "$KAFKA_PORT" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "---- tail of $(rel "$KAFKA_LOG") ----" >&2
    tail -n 40 "$KAFKA_LOG" >&2 || true
    stop_pid "$KAFKA_PID" "$KAFKA_MATCH" 10
    if [ "$rc" -eq 2 ]; then
      fail kafka "$KAFKA_ADDR" "broker exited during startup (log: $(rel "$KAFKA_LOG"))"
    fi
    fail kafka "$KAFKA_ADDR" "broker did not open $KAFKA_ADDR within ${START_TIMEOUT}s (log: $(rel "$KAFKA_LOG"))"
  fi
  line kafka "$KAFKA_ADDR" "up (started, pid $(cat "$KAFKA_PID"))  $KAFKA_UP_LINE"
}

kafka_down() {
  if pid_alive "$KAFKA_PID" "$KAFKA_MATCH"; then
    stop_pid "$KAFKA_PID" "$KAFKA_MATCH" 30
    line kafka "$KAFKA_ADDR" "stopped"
  elif port_open "$HOST" "$KAFKA_PORT"; then
    line kafka "$KAFKA_ADDR" "left running (reused, not ours)"
  else
    line kafka "$KAFKA_ADDR" "down"
  fi
}

kafka_status() {
  if port_open "$HOST" "$KAFKA_PORT"; then
    if pid_alive "$KAFKA_PID" "$KAFKA_MATCH"; then
      line kafka "$KAFKA_ADDR" "up (ours, pid $(cat "$KAFKA_PID"))"
    else
      line kafka "$KAFKA_ADDR" "up (reused)"
    fi
  else
    line kafka "$KAFKA_ADDR" "down"; return 1
  fi
}

# --------------------------------------------------------------- registry ---

REG_ADDR="$HOST:$REGISTRY_PORT"
REG_URL="http://$REG_ADDR/v2/"
REG_MATCH="serve $REG_DIR/config.yml"

REG_AUTH="$REG_DIR/auth"
. "$DEPLOY_DIR/lib/dev-credentials.sh"

reg_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$REG_URL" 2>/dev/null || true; }  # anonymous
reg_ok() { registry_curl -sf -o /dev/null --max-time 3 "$REG_URL" 2>/dev/null; }

# The registry's one account, made once: a random password, bcrypt in htpasswd (apache2-utils), and the same as a
# Docker config.json for clients.
reg_credentials() {
  [ -s "$REG_AUTH/htpasswd" ] && [ -s "$REG_AUTH/auth.json" ] && [ -s "$REG_AUTH/userpass" ] && return 0
  command -v htpasswd >/dev/null || ensure_pkgs apache2-utils || fail registry "$REG_ADDR" "cannot install apache2-utils (htpasswd)"
  local user=berth pass
  pass="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
  (umask 077 && mkdir -p "$REG_AUTH" &&
    htpasswd -Bbn "$user" "$pass" >"$REG_AUTH/htpasswd" &&
    printf '%s:%s' "$user" "$pass" >"$REG_AUTH/userpass" &&
    printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG_ADDR" "$(printf '%s:%s' "$user" "$pass" | base64 -w0)" >"$REG_AUTH/auth.json")
  chmod 0700 "$REG_AUTH"
}

# pids of a docker-registry serving a Berth dev config of another checkout (deploy/.state/registry/config.yml)
other_berth_registry_pids() {
  other_checkout_pids "$REG_PID" /deploy/.state/registry/config.yml "^[^ ]*docker-registry serve .*/deploy/\.state/registry/config\.yml"
}

# pids of Debian's packaged registry (the one using /etc/docker/registry/config.yml)
debian_registry_pids() {
  local f pid
  while read -r f; do
    pid="${f#/proc/}"; pid="${pid%/cmdline}"
    tr '\0' ' ' 2>/dev/null <"$f" | grep -q '^[^ ]*docker-registry serve /etc/docker/registry/' &&
      echo "$pid"
  done < <(grep -lsaF -- /etc/docker/registry/ /proc/[0-9]*/cmdline 2>/dev/null || true)
  return 0
}

stop_debian_registry() {
  note "stopping Debian's packaged docker-registry service (htpasswd auth, /etc/docker/registry)"
  if [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl stop docker-registry >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/docker-registry ]; then
    "${SUDO[@]}" /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
  fi
  local pids i
  pids="$(debian_registry_pids)"
  # shellcheck disable=SC2086
  [ -n "$pids" ] && { "${SUDO[@]}" kill $pids 2>/dev/null || true; }
  for ((i = 0; i < 50; i++)); do port_open "$HOST" "$REGISTRY_PORT" || return 0; sleep 0.2; done
  return 1
}

reg_config() {
  mkdir -p "$REG_DIR/data"
  cat >"$REG_DIR/config.yml" <<EOF
# Written by deploy/dev-services.sh - dev/test OCI registry, loopback only, one htpasswd account.
version: 0.1
log:
  level: info
  fields:
    service: berth-dev-registry
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
auth:
  htpasswd:
    realm: berth-dev-registry
    path: $REG_AUTH/htpasswd
http:
  addr: $REG_ADDR
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
}

reg_up() {
  reg_credentials
  local code
  code="$(reg_code)"
  if [ "$code" = 401 ] && reg_ok && pid_alive "$REG_PID" "$REG_MATCH"; then
    line registry "$REG_ADDR" "up (ours, pid $(cat "$REG_PID"))  $REG_URL"
    return 0
  fi
  if [ "$code" = 200 ] && pid_alive "$REG_PID" "$REG_MATCH"; then
    note "our registry answers anyone (started before it had an account): restarting it with the account"
    stop_pid "$REG_PID" "$REG_MATCH" 10
  fi
  if port_open "$HOST" "$REGISTRY_PORT" && ! pid_alive "$REG_PID" "$REG_MATCH"; then
    local others
    others="$(other_berth_registry_pids)"
    if [ -n "$others" ]; then
      note "stopping the dev registry of another Berth checkout on :$REGISTRY_PORT (pid $others)"
      # shellcheck disable=SC2086
      kill $others 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do port_open "$HOST" "$REGISTRY_PORT" || break; sleep 0.2; done
    elif [ -n "$(debian_registry_pids)" ]; then
      stop_debian_registry || fail registry "$REG_ADDR" "could not stop Debian's docker-registry service on :$REGISTRY_PORT"
    fi
    port_open "$HOST" "$REGISTRY_PORT" &&
      fail registry "$REG_ADDR" "port $REGISTRY_PORT is taken by something that is not Berth's dev registry (GET /v2/ -> HTTP $code); stop it or set BERTH_REGISTRY_PORT"
  fi
  if ! pid_alive "$REG_PID" "$REG_MATCH"; then
    command -v docker-registry >/dev/null || ensure_pkgs docker-registry ||
      fail registry "$REG_ADDR" "cannot install docker-registry"
    # Installing the package may auto-start Debian's own service (with htpasswd auth) on :5000.
    if [ -n "$(debian_registry_pids)" ]; then
      stop_debian_registry || fail registry "$REG_ADDR" "could not stop Debian's docker-registry service on :$REGISTRY_PORT"
    fi
    reg_config
    note "starting docker-registry"
    start_bg "$REG_PID" "$REG_LOG" "$REG_DIR" "$(command -v docker-registry)" serve "$REG_DIR/config.yml" ||
      fail registry "$REG_ADDR" "could not launch docker-registry"
  fi
  local rc=0
  wait_until 30 "$REG_PID" "$REG_MATCH" reg_ok || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "---- tail of $(rel "$REG_LOG") ----" >&2
    tail -n 20 "$REG_LOG" >&2 || true
    stop_pid "$REG_PID" "$REG_MATCH" 5
    if [ "$rc" -eq 2 ]; then
      fail registry "$REG_ADDR" "docker-registry exited during startup (log: $(rel "$REG_LOG"))"
    fi
    fail registry "$REG_ADDR" "registry did not answer $REG_URL within 30s (log: $(rel "$REG_LOG"))"
  fi
  [ "$(reg_code)" = 401 ] || fail registry "$REG_ADDR" "the registry answers without credentials (GET /v2/ -> HTTP $(reg_code)): its config lacks the account"
  line registry "$REG_ADDR" "up (started, pid $(cat "$REG_PID"), account in $(rel "$REG_AUTH"))  $REG_URL"
}

reg_down() {
  if pid_alive "$REG_PID" "$REG_MATCH"; then
    stop_pid "$REG_PID" "$REG_MATCH" 10
    line registry "$REG_ADDR" "stopped"
  elif [ "$(reg_code)" != 000 ]; then
    line registry "$REG_ADDR" "left running (reused, not ours)"
  else
    line registry "$REG_ADDR" "down"
  fi
}

reg_status() {
  local code
  code="$(reg_code)"
  if [ "$code" = 401 ] && reg_ok; then
    if pid_alive "$REG_PID" "$REG_MATCH"; then
      line registry "$REG_ADDR" "up (ours, pid $(cat "$REG_PID"), with an account)"
    else
      line registry "$REG_ADDR" "up (not ours, accepts our account)"
    fi
  elif [ "$code" = 200 ]; then
    line registry "$REG_ADDR" "up but answers anyone (run deploy/dev-services.sh up to give it an account)"; return 1
  elif [ "$code" = 000 ]; then
    line registry "$REG_ADDR" "down"; return 1
  else
    line registry "$REG_ADDR" "down (something else answers: GET /v2/ -> HTTP $code)"; return 1
  fi
}

seed_up() {
  [ "${BERTH_SKIP_SEED:-0}" = 1 ] && { line seed "$REG_ADDR" "skipped (BERTH_SKIP_SEED=1)"; return 0; }
  if [ ! -e "$SEED_SCRIPT" ]; then line seed "$REG_ADDR" "skipped ($(rel "$SEED_SCRIPT") not present)"; return 0; fi
  if [ ! -x "$SEED_SCRIPT" ]; then line seed "$REG_ADDR" "skipped ($(rel "$SEED_SCRIPT") not executable)"; return 0; fi
  local log="$STATE/seed-images.log" t0=$SECONDS
  note "running $(rel "$SEED_SCRIPT") $REG_ADDR"
  local rc=0
  (cd "$REPO_ROOT" && "$SEED_SCRIPT" "$REG_ADDR") </dev/null >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    line seed "$REG_ADDR" "ok ($(rel "$SEED_SCRIPT"), $((SECONDS - t0))s, log: $(rel "$log"))"
  else
    echo "---- tail of $(rel "$log") ----" >&2
    tail -n 20 "$log" >&2 || true
    fail seed "$REG_ADDR" "$(rel "$SEED_SCRIPT") exited $rc (log: $(rel "$log"))"
  fi
}

# ------------------------------------------------------------------- main ---

# run_step fn: run a service step in a subshell with errexit active (a plain
# `fn || rc=1` would silently disable set -e inside fn); returns its status.
run_step() {
  local rc
  set +e
  (set -e; "$1")
  rc=$?
  set -e
  return "$rc"
}

ensure_base() {
  local need=()
  command -v curl >/dev/null || need+=(curl)
  command -v pg_isready >/dev/null && command -v psql >/dev/null || need+=(postgresql-client)
  command -v setsid >/dev/null && command -v flock >/dev/null || need+=(util-linux)
  [ ${#need[@]} -eq 0 ] || ensure_pkgs "${need[@]}" || { echo "cannot install ${need[*]}" >&2; exit 1; }
}

# with_lock <subcommand>: serialise up/down by re-running this script under
# flock(1). -o closes the lock fd before exec, so nothing we start (kafka, the
# registry, a postgres started by pg_ctlcluster, whatever the seed script runs)
# inherits it - an inherited fd would keep the lock held for the daemon's lifetime.
with_lock() {
  [ -n "${BERTH_DEV_SERVICES_LOCKED:-}" ] && return 0
  local lockf="$STATE/.lock" rc=0
  flock -n "$lockf" true 2>/dev/null || note "waiting for another dev-services.sh up/down (lock $(rel "$lockf"))"
  BERTH_DEV_SERVICES_LOCKED=1 flock -o -w 900 -E 75 "$lockf" "$SELF" "$@" || rc=$?
  [ "$rc" -eq 75 ] && echo "dev-services: gave up after 900s waiting for lock $(rel "$lockf")" >&2
  exit "$rc"
}

cmd_up() {
  ensure_base
  local failed=() reg_ok_=1
  run_step pg_up || failed+=(postgres)
  run_step kafka_up || failed+=(kafka)
  run_step reg_up || { failed+=(registry); reg_ok_=0; }
  if [ "$reg_ok_" = 1 ]; then run_step seed_up || failed+=(seed); fi
  if [ ${#failed[@]} -gt 0 ]; then
    echo "dev-services: FAILED: ${failed[*]} (state and logs in $(rel "$STATE"))" >&2
    exit 1
  fi
  note "all services up (${SECONDS}s; state in $(rel "$STATE"))"
}

cmd_down() {
  ensure_base
  run_step kafka_down || true
  run_step reg_down || true
  run_step pg_down || true
}

cmd_status() {
  local rc=0
  ensure_base
  run_step pg_status || rc=3
  run_step kafka_status || rc=3
  run_step reg_status || rc=3
  return "$rc"
}

usage() { sed -n '2,/^set -e/{/^set -e/d; s/^# \{0,1\}//; p}' "$SELF"; }

mkdir -p "$STATE" "$KAFKA_DIR" "$REG_DIR" "$PG_DIR"
case "${1:-up}" in
  up) with_lock up; cmd_up ;;
  down) with_lock down; cmd_down ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
