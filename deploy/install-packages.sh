#!/usr/bin/env bash
# Installs the Debian packages Berth builds, tests and runs with; quiet when all are present.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1 || [[ -x "$2" ]]; }
have runc /usr/sbin/runc || need+=(runc)
have crun /usr/bin/crun || need+=(crun)
have docker-registry /usr/bin/docker-registry || need+=(docker-registry)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)  # static: it runs inside images with no libc
have containerd /usr/bin/containerd || need+=(containerd)
have gcc /usr/bin/gcc || need+=(gcc)
[[ -f /usr/include/stdio.h && -n "$(ls /usr/lib/*/libc.a 2>/dev/null)" ]] || need+=(libc6-dev)  # the shim; the static syscall probe of the tests
have mvn /usr/bin/mvn || need+=(maven)
have javac /usr/bin/javac || need+=(openjdk-17-jdk-headless)
have curl /usr/bin/curl || need+=(curl)
have htpasswd /usr/bin/htpasswd || need+=(apache2-utils)  # the dev registry's account
have pigz /usr/bin/pigz || need+=(pigz)
have ip /usr/sbin/ip || need+=(iproute2)
# --network bridge: the CNI bridge, host-local, loopback and portmap plugins; iptables for their NAT rules
[[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)
have iptables /usr/sbin/iptables || need+=(iptables)
if (( ${#need[@]} )); then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's docker-registry package starts its own service on :5000 with htpasswd auth; Berth runs its own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi
