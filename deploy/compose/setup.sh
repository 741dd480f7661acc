#!/usr/bin/env bash
# Start or stop the Dapr deployment on Docker Compose.
#   ./setup.sh          build and run in the foreground (Ctrl+C stops)
#   ./setup.sh -d       build and run detached, wait for health
#   ./setup.sh -l       follow the logs of a running deployment
#   ./setup.sh down     stop and remove containers (-v as well: also volumes)
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPOSE_FILE="${DIR}/docker-compose.yml"
PROJECT="telemetry-pipeline"

usage() {
  echo "usage: $0 [-d] [-l] | down [-v]"
}

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
else
  echo "error: neither 'docker compose' nor 'docker-compose' is available" >&2
  exit 1
fi
COMPOSE+=(-p "$PROJECT" -f "$COMPOSE_FILE")

if [[ "${1:-}" == "down" ]]; then
  shift
  if [[ "${1:-}" == "-v" ]]; then
    echo "==> stopping and removing containers and volumes (Redis data is lost)"
    "${COMPOSE[@]}" down -v --remove-orphans
  else
    echo "==> stopping and removing containers (volumes kept)"
    "${COMPOSE[@]}" down --remove-orphans
  fi
  exit 0
fi

DETACH=0
LOGS=0
while getopts ":dlh" opt; do
  case "$opt" in
    d) DETACH=1 ;;
    l) LOGS=1 ;;
    h) usage; exit 0 ;;
    *) echo "error: unknown option -$OPTARG" >&2; usage >&2; exit 2 ;;
  esac
done

if ! docker info >/dev/null 2>&1; then
  echo "error: cannot reach the Docker engine (is it running? may this user use it?)" >&2
  exit 1
fi

if (( LOGS && !DETACH )); then
  exec "${COMPOSE[@]}" logs -f
fi

if (( DETACH )); then
  echo "==> building and starting in the background"
  "${COMPOSE[@]}" up -d --build
  echo "==> waiting for the services to report healthy (up to 120 s)"
  unhealthy=1
  for _ in $(seq 1 60); do
    unhealthy="$("${COMPOSE[@]}" ps | grep -cE 'starting|unhealthy' || true)"
    if [[ "$unhealthy" == "0" ]]; then
      break
    fi
    sleep 2
  done
  "${COMPOSE[@]}" ps
  if [[ "$unhealthy" != "0" ]]; then
    echo "error: ${unhealthy} container(s) still starting or unhealthy after 120 s;" >&2
    echo "       see '$0 -l' and: docker inspect --format '{{json .State.Health}}' <container>" >&2
    exit 1
  fi
  echo
  echo "API:        http://localhost:8081/api/v1/gpus"
  echo "Health:     http://localhost:8081/health  http://localhost:8080/health  http://localhost:8082/health"
  echo "Metrics:    http://localhost:9092/metrics  http://localhost:9091/metrics  http://localhost:9093/metrics"
  echo "Dashboard:  http://localhost:8088   Jaeger: http://localhost:16686"
  if (( LOGS )); then
    exec "${COMPOSE[@]}" logs -f
  fi
else
  echo "==> building and starting in the foreground (Ctrl+C stops)"
  exec "${COMPOSE[@]}" up --build
fi
