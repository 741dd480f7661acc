#!/usr/bin/env bash
# From nothing to a running pipeline on a local kind cluster:
#   local registry -> kind cluster wired to it -> dapr init -k -> build/push
#   images -> helm install.
# Needs: docker, kind, kubectl, helm, dapr CLI.
#   ./kind-quickstart.sh [-c CLUSTER] [-p REGISTRY_PORT] [-t TAG] [-f VALUES_FILE]
set -euo pipefail

CLUSTER="telemetry"
REGISTRY_NAME="kind-registry"
REGISTRY_PORT="5001"
TAG="0.1.0"
EXTRA_VALUES=""
RELEASE="telemetry"
NAMESPACE="telemetry"

usage() {
  echo "usage: $0 [-c CLUSTER] [-p REGISTRY_PORT] [-t TAG] [-f VALUES_FILE]"
}

while getopts ":c:p:t:f:h" opt; do
  case "$opt" in
    c) CLUSTER="$OPTARG" ;;
    p) REGISTRY_PORT="$OPTARG" ;;
    t) TAG="$OPTARG" ;;
    f) EXTRA_VALUES="$OPTARG" ;;
    h) usage; exit 0 ;;
    :) echo "error: -$OPTARG needs a value" >&2; usage >&2; exit 2 ;;
    *) echo "error: unknown option -$OPTARG" >&2; usage >&2; exit 2 ;;
  esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"

missing=0
for tool in docker kind kubectl helm dapr; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: '$tool' is not installed or not on PATH" >&2
    missing=1
  fi
done
if (( missing )); then
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "error: cannot reach the Docker engine" >&2
  exit 1
fi

echo "==> local registry ${REGISTRY_NAME} on localhost:${REGISTRY_PORT}"
if [[ "$(docker inspect -f '{{.State.Running}}' "$REGISTRY_NAME" 2>/dev/null || true)" != "true" ]]; then
  docker run -d --restart=always -p "127.0.0.1:${REGISTRY_PORT}:5000" \
    --network bridge --name "$REGISTRY_NAME" registry:2
fi

echo "==> kind cluster ${CLUSTER}"
if ! kind get clusters | grep -qx "$CLUSTER"; then
  # containerd looks up localhost:PORT through the registry container.
  kind create cluster --name "$CLUSTER" --config - <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
containerdConfigPatches:
  - |-
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
KIND
fi

REGISTRY_DIR="/etc/containerd/certs.d/localhost:${REGISTRY_PORT}"
for node in $(kind get nodes --name "$CLUSTER"); do
  docker exec "$node" mkdir -p "$REGISTRY_DIR"
  printf '[host."http://%s:5000"]\n' "$REGISTRY_NAME" | \
    docker exec -i "$node" cp /dev/stdin "${REGISTRY_DIR}/hosts.toml"
done
if [[ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$REGISTRY_NAME")" == "null" ]]; then
  docker network connect kind "$REGISTRY_NAME"
fi

echo "==> Dapr control plane"
if ! kubectl get namespace dapr-system >/dev/null 2>&1; then
  dapr init -k --wait
else
  echo "    dapr-system exists, skipping dapr init -k"
fi

echo "==> images (tag ${TAG})"
"${ROOT}/deploy/compose/build-and-push.sh" -t "$TAG" -p "$REGISTRY_PORT"

echo "==> helm install ${RELEASE} into namespace ${NAMESPACE}"
helm_args=(upgrade --install "$RELEASE" "${HERE}/telemetry-pipeline"
  --namespace "$NAMESPACE" --create-namespace
  --set "image.registry=localhost:${REGISTRY_PORT}" --set "image.tag=${TAG}"
  --wait --timeout 5m)
if [[ -n "$EXTRA_VALUES" ]]; then
  helm_args+=(-f "$EXTRA_VALUES")
fi
helm "${helm_args[@]}"

echo
echo "done. Try:"
echo "  kubectl -n ${NAMESPACE} port-forward svc/${RELEASE}-gateway 8081:8081 &"
echo "  curl http://localhost:8081/api/v1/gpus"
echo "Remove everything: kind delete cluster --name ${CLUSTER}; docker rm -f ${REGISTRY_NAME}"
