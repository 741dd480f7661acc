# TelemetryPipeline — developer commands. `make help` lists them.
SHELL := /bin/bash
CONFIGURATION ?= Release
SOLUTION := TelemetryPipeline.sln
RESULTS := TestResults
EMBEDDED_DLL := services/Telemetry.Embedded/bin/$(CONFIGURATION)/net10.0/Telemetry.Embedded.dll

# Settings for `make run`; any can be overridden on the command line or in the environment.
export CSV_FILE ?= $(CURDIR)/data/dcgm_metrics_20250718_134233.csv
export DATA_DIR ?= $(CURDIR)/.data

.PHONY: help build run test coverage openapi clean bench bench-full fuzz dashboard screenshots

help:
	@echo "make run        embedded pipeline (dashboard and API on http://localhost:8081), streaming data/ at RATE (default 10/s per worker)"
	@echo "make test       build and run every test; prints 'N passed, N failed, N skipped'"
	@echo "make coverage   tests with line/branch coverage; summary printed, HTML in coverage/"
	@echo "make openapi    write docs/openapi.json from the code (no server)"
	@echo "make bench      performance figures, quick mode (table + BenchmarkResults/results.json); make bench-full for the full run"
	@echo "make dashboard  reinstall the dashboard's npm assets (uPlot) from web/package-lock.json into the gateway (needs node; the result is committed)"
	@echo "make screenshots  docs/images/*.png from the dashboard's browser tests (needs /usr/bin/chromium)"
	@echo "make fuzz       long CSV and REST API fuzzing (FUZZ_SECONDS per fuzzer, default 120; FUZZ_SEED)"
	@echo "make dapr-run   build the three Dapr apps once, then dapr run -f . (dapr-build builds only)"
	@echo "make lint-deploy / docker-build / docker-deploy / docker-down / helm-lint   (see deploy/)"

build:
	dotnet build $(SOLUTION) -c $(CONFIGURATION)

run:
	dotnet build services/Telemetry.Embedded -c $(CONFIGURATION) -v quiet -nologo
	dotnet $(EMBEDDED_DLL)

test:
	rm -rf $(RESULTS)
	dotnet build $(SOLUTION) -c $(CONFIGURATION) -nologo -v quiet
	dotnet test $(SOLUTION) -c $(CONFIGURATION) --no-build --logger trx --results-directory $(RESULTS) -v quiet -nologo || true
	.ci/test-summary.sh $(RESULTS)

coverage:
	rm -rf $(RESULTS) coverage
	dotnet tool restore
	dotnet test $(SOLUTION) -c $(CONFIGURATION) --logger trx --results-directory $(RESULTS) --collect:"XPlat Code Coverage" -v quiet -nologo || true
	dotnet reportgenerator -reports:"$(RESULTS)/**/coverage.cobertura.xml" -targetdir:coverage -reporttypes:"Html;TextSummary" \
		-assemblyfilters:"+Telemetry.*;-Telemetry.*Tests*;-Telemetry.DaprDouble" >/dev/null
	@sed -n '1,20p' coverage/Summary.txt
	.ci/test-summary.sh $(RESULTS)

openapi:
	dotnet build services/Telemetry.Gateway.Dapr -c $(CONFIGURATION) -p:OpenApiGenerateDocuments=true -nologo -v quiet
	mv docs/Telemetry.Gateway.Dapr.json docs/openapi.json
	@echo "wrote docs/openapi.json"

# The fuzzers also run in `make test`, for a few seconds each; this runs them for FUZZ_SECONDS each.
fuzz:
	dotnet build tests/Telemetry.Reliability.Tests -c $(CONFIGURATION) -nologo -v quiet
	set -o pipefail; FUZZ_SECONDS=$${FUZZ_SECONDS:-120} dotnet test tests/Telemetry.Reliability.Tests -c $(CONFIGURATION) --no-build -nologo \
		--filter Category=Fuzz --logger "console;verbosity=detailed" | grep -E 'FIGURE|Passed|Failed|seed|Total'

# Figures, not tests: never part of `make test`. BENCH_ARGS can narrow a run, e.g. BENCH_ARGS="--only 1,5".
bench:
	dotnet build tests/Telemetry.Benchmarks -c Release -nologo -v quiet
	dotnet tests/Telemetry.Benchmarks/bin/Release/net10.0/Telemetry.Benchmarks.dll quick $(BENCH_ARGS)

bench-full:
	dotnet build tests/Telemetry.Benchmarks -c Release -nologo -v quiet
	dotnet tests/Telemetry.Benchmarks/bin/Release/net10.0/Telemetry.Benchmarks.dll full $(BENCH_ARGS)

# The dashboard's only third-party front-end code (uPlot) comes from npm, pinned by web/package-lock.json, and is
# committed under services/Telemetry.Gateway/Dashboard/vendor so that building the services never needs node.
dashboard:
	cd web && npm ci --no-audit --no-fund && node build.mjs

screenshots:
	dotnet build tests/Telemetry.Dashboard.Tests -c $(CONFIGURATION) -nologo -v quiet
	DASHBOARD_SCREENSHOTS=$(CURDIR)/docs/images dotnet test tests/Telemetry.Dashboard.Tests -c $(CONFIGURATION) --no-build -nologo \
		--filter "FullyQualifiedName~BrowserTests" -v quiet
	@ls docs/images

clean:
	dotnet clean $(SOLUTION) -v quiet
	rm -rf $(RESULTS) coverage

include deploy/deploy.mk
