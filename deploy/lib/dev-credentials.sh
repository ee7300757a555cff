# Sourced: the dev stack's accounts, made by deploy/dev-services.sh (state under deploy/.state, mode 0600).
# Services a node runs for Berth authenticate their callers: a host-network container shares the host's loopback,
# so "loopback only" alone would let it overwrite the node's images.
#   registry_auth_file     the Docker config.json with the dev registry's account (for the agent, skopeo, podman)
#   registry_userpass      USER:PASSWORD of that account (for ctr --user, curl -u)
#   registry_curl ARGS...  curl, logged in to the dev registry
#   kafka_client_properties the Kafka client settings that log in to the dev broker (SASL SCRAM-SHA-256)
#   dev_credentials_export exports BERTH_AGENT_REGISTRY_CREDENTIALS_FILE (the agent's registry account) and
#                          BERTH_KAFKA_CLIENT_PROPERTIES (every Berth Kafka client's login), each unless already set
_dev_credentials_state="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)/.state"
registry_auth_file() { echo "$_dev_credentials_state/registry/auth/auth.json"; }
registry_userpass() { cat "$_dev_credentials_state/registry/auth/userpass" 2>/dev/null; }
registry_curl() { curl -u "$(registry_userpass)" "$@"; }
kafka_client_properties() { echo "$_dev_credentials_state/kafka/auth/client.properties"; }
dev_credentials_export() {
  if [[ -z "${BERTH_AGENT_REGISTRY_CREDENTIALS_FILE:-}" && -f "$(registry_auth_file)" ]]; then
    export BERTH_AGENT_REGISTRY_CREDENTIALS_FILE="$(registry_auth_file)"
  fi
  if [[ -z "${BERTH_KAFKA_CLIENT_PROPERTIES:-}" && -f "$(kafka_client_properties)" ]]; then
    export BERTH_KAFKA_CLIENT_PROPERTIES="$(kafka_client_properties)"
  fi
}
