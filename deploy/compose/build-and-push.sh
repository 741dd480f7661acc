#!/usr/bin/env bash
# Build the three service images and push them to a registry on localhost.
#   ./build-and-push.sh [-t TAG] [-p REGISTRY_PORT] [-n]   (-n: build only)
set -euo pipefail

TAG="latest"
REGISTRY_PORT="5000"
PUSH=1
IMAGES=(
  "telemetry-streamer:services/Telemetry.Streamer.Dapr/Dockerfile"
  "telemetry-collector:services/Telemetry.Collector.Dapr/Dockerfile"
  "api-gateway:services/Telemetry.Gateway.Dapr/Dockerfile"
)

usage() {
  echo "usage: $0 [-t TAG] [-p REGISTRY_PORT] [-n]"
  echo "  -t TAG            image tag (default: latest)"
  echo "  -p REGISTRY_PORT  port of the registry on localhost (default: 5000)"
  echo "  -n                build only, do not push"
}

while getopts ":t:p:nh" opt; do
  case "$opt" in
    t) TAG="$OPTARG" ;;
    p) REGISTRY_PORT="$OPTARG" ;;
    n) PUSH=0 ;;
    h) usage; exit 0 ;;
    :) echo "error: -$OPTARG needs a value" >&2; usage >&2; exit 2 ;;
    *) echo "error: unknown option -$OPTARG" >&2; usage >&2; exit 2 ;;
  esac
done

if ! [[ "$REGISTRY_PORT" =~ ^[0-9]+$ ]] || (( REGISTRY_PORT < 1 || REGISTRY_PORT > 65535 )); then
  echo "error: registry port must be a number between 1 and 65535, got '$REGISTRY_PORT'" >&2
  exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REGISTRY="localhost:${REGISTRY_PORT}"

if ! command -v docker >/dev/null 2>&1; then
  echo "error: docker is not installed or not on PATH" >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "error: cannot reach the Docker engine (is it running? may this user use it?)" >&2
  exit 1
fi

if (( PUSH )); then
  if command -v curl >/dev/null 2>&1 && ! curl -fsS -o /dev/null "http://${REGISTRY}/v2/"; then
    echo "error: no registry answers at http://${REGISTRY}/v2/" >&2
    echo "       start one with: docker run -d -p ${REGISTRY_PORT}:5000 --name registry registry:2" >&2
    exit 1
  fi
fi

for entry in "${IMAGES[@]}"; do
  name="${entry%%:*}"
  dockerfile="${entry#*:}"
  project_dir="$(dirname "$dockerfile")"
  if ! compgen -G "${ROOT}/${project_dir}/*.csproj" >/dev/null; then
    echo "error: ${project_dir} has no project file yet; cannot build ${name}" >&2
    exit 1
  fi
  echo "==> building ${name}:${TAG} from ${dockerfile}"
  docker build -f "${ROOT}/${dockerfile}" -t "${name}:${TAG}" "${ROOT}"
  if (( PUSH )); then
    docker tag "${name}:${TAG}" "${REGISTRY}/${name}:${TAG}"
    echo "==> pushing ${REGISTRY}/${name}:${TAG}"
    docker push "${REGISTRY}/${name}:${TAG}"
  fi
done

if (( PUSH )); then
  echo "done: images pushed to ${REGISTRY} with tag ${TAG}"
else
  echo "done: images built with tag ${TAG} (not pushed)"
fi
