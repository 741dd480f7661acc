# Deployment targets; included from the root Makefile (paths are relative to
# the repository root).
#   make docker-build [TAG=x]        build the three images
#   make docker-push [TAG=x] [REGISTRY_PORT=5000]
#   make docker-deploy / docker-down  run / stop the compose deployment
#   make dapr-build                   build the three Dapr apps once (Release), for dapr.yaml
#   make dapr-run                     dapr-build, then `dapr run -f .` (needs the dapr CLI)
#   make helm-lint                    helm lint + template (needs helm)
#   make lint-deploy                  compose config, yamllint, shellcheck

TAG ?= latest
REGISTRY_PORT ?= 5000
COMPOSE_FILE := deploy/compose/docker-compose.yml
HELM_CHART := deploy/helm/telemetry-pipeline
DEPLOY_SCRIPTS := deploy/compose/build-and-push.sh deploy/compose/setup.sh deploy/helm/kind-quickstart.sh
# docker-compose v1 validates offline; fall back to the compose plugin.
COMPOSE_CMD := $(shell command -v docker-compose 2>/dev/null || (docker compose version >/dev/null 2>&1 && echo "docker compose"))

# dapr.yaml starts each app with `dotnet run --no-build -c Release`: the apps share
# projects, and three builds at once race on their obj/ folders. Build them here,
# one after the other, with the configuration dapr.yaml runs.
DAPR_APPS := services/Telemetry.Streamer.Dapr services/Telemetry.Collector.Dapr services/Telemetry.Gateway.Dapr

.PHONY: docker-build docker-push docker-deploy docker-down helm-lint lint-deploy dapr-build dapr-run

dapr-build:
	@for app in $(DAPR_APPS); do \
	  echo "dapr-build: $$app"; \
	  dotnet build $$app -c Release -nologo -v quiet || exit 1; \
	done

dapr-run: dapr-build
	@command -v dapr >/dev/null 2>&1 || { echo "dapr-run: the dapr CLI is not installed (https://docs.dapr.io/getting-started/install-dapr-cli/)"; exit 1; }
	dapr run -f .

docker-build:
	deploy/compose/build-and-push.sh -n -t $(TAG)

docker-push:
	deploy/compose/build-and-push.sh -t $(TAG) -p $(REGISTRY_PORT)

docker-deploy:
	deploy/compose/setup.sh -d

docker-down:
	deploy/compose/setup.sh down

helm-lint:
	@if ! command -v helm >/dev/null 2>&1; then \
	  echo "helm-lint: helm is not installed; skipping (install from https://helm.sh/docs/intro/install/)."; \
	  echo "helm-lint: values and schema are still checked by: dotnet test tests/Telemetry.Deploy.Tests"; \
	  exit 0; \
	fi; \
	set -e; \
	helm lint --strict $(HELM_CHART); \
	helm template ci $(HELM_CHART) >/dev/null; \
	for f in $(HELM_CHART)/examples/*.yaml; do \
	  echo "helm-lint: $$f"; \
	  helm lint --strict $(HELM_CHART) -f $$f; \
	  helm template ci $(HELM_CHART) -f $$f >/dev/null; \
	done

lint-deploy:
	@if [ -z "$(COMPOSE_CMD)" ]; then \
	  echo "lint-deploy: docker-compose not found (apt-get install docker-compose)"; exit 1; fi
	@command -v yamllint >/dev/null 2>&1 || { echo "lint-deploy: yamllint not found (apt-get install yamllint)"; exit 1; }
	@command -v shellcheck >/dev/null 2>&1 || { echo "lint-deploy: shellcheck not found (apt-get install shellcheck)"; exit 1; }
	$(COMPOSE_CMD) -f $(COMPOSE_FILE) config -q
	yamllint -s .
	shellcheck $(DEPLOY_SCRIPTS)
	@echo "lint-deploy: ok"
