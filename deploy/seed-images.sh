#!/usr/bin/env bash
# Pushes Berth's test images into a registry: deploy/seed-images.sh [HOST:PORT] [--force] (logged in with the dev
# registry's account when deploy/dev-services.sh made one)
# The images are built from this machine's real binaries (busybox-static, shared libraries),
# since no public registry is reachable; images the registry already has are kept (--force
# rebuilds them). The ~150 MB four-layer test/big used by benchmarks is included unless
# BERTH_SEED_BIG=0.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
registry="${1:-127.0.0.1:5000}"
shift || true
flags=("$@")
[[ "${BERTH_SEED_BIG:-1}" == 1 && " $* " != *" --big "* ]] && flags+=(--big)

[[ -x /usr/bin/busybox ]] || { echo "seed-images: /usr/bin/busybox is missing: apt-get install busybox-static" >&2; exit 1; }
# The test images and their builder are test fixtures (oci's test code): run them from oci's test classes.
cp_file="$repo/oci/target/seed.classpath"
if [[ ! -f "$repo/oci/target/test-classes/dev/berth/oci/testing/TestImages.class" || ! -f "$cp_file" ]]; then
  (cd "$repo" && mvn -q -B -pl oci -am install -DskipTests)
  (cd "$repo" && mvn -q -B -pl oci dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cp_file")
fi
# the dev registry's account (deploy/dev-services.sh made it); BERTH_REGISTRY_AUTH names another Docker config.json
. "$repo/deploy/lib/dev-credentials.sh"
auth="${BERTH_REGISTRY_AUTH:-$(registry_auth_file)}"
[[ -f "$auth" ]] && flags+=(--auth "$auth")
java -cp "$repo/oci/target/test-classes:$repo/oci/target/classes:$(cat "$cp_file")" dev.berth.oci.testing.TestImages "$registry" "${flags[@]}"
