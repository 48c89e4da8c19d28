# stockpulse: the two commands are `make demo` and `make test`; the rest are steps of them.
SHELL := /bin/bash
VENV := .venv
SP := $(VENV)/bin/stockpulse

.PHONY: setup up down status test test-unit test-integration test-system test-deploy test-cluster lint demo bench soak \
	docs-figures clean help images k8s-up k8s-down k8s-status k8s-sql

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

setup: ## venv, pinned packages, Maven jars, helm/kubectl (idempotent)
	@bash scripts/setup.sh

up: setup ## start the local stack in the background (.run/)
	@$(SP) up

down: ## stop the local stack
	@if [ -x $(SP) ]; then $(SP) down; fi

status: ## show the local stack's health
	@$(SP) status

lint: setup ## ruff
	@$(VENV)/bin/ruff check --output-format concise .
	@$(VENV)/bin/ruff format --check -q .

PYTEST := $(VENV)/bin/pytest -q -p no:cacheprovider

test: setup lint ## every tier in one run (figures under .run/; `git status` stays clean)
	@$(PYTEST) --durations=40

test-unit: setup ## unit tier: seconds, no broker, JVM or cluster
	@$(PYTEST) tests/unit

test-integration: setup ## integration tier: real Kafka, gunicorn, Spark, metastore
	@$(PYTEST) tests/integration

test-system: setup ## system tier: demo, bench, soak and the fault suite end to end
	@$(PYTEST) tests/system

test-deploy: setup ## deploy tier: chart, images, skaffold, rules, read offline
	@$(PYTEST) tests/deploy

test-cluster: setup ## cluster tier: the chart running on the local Kubernetes (root)
	@$(PYTEST) tests/cluster

docs-figures: setup ## copy the latest measured figures from .run/ into docs/ (fault table, bench and soak rows)
	@$(VENV)/bin/python -m stockpulse_toolbox.figures

demo: setup ## the whole pipeline end to end, then the report
	@$(SP) demo

bench: setup ## the benchmark; figures to .run/bench.json
	@$(SP) bench

soak: setup ## 30 min steady load with maintenance, then 30 without; figures to .run/bench.json (about 70 min)
	@$(SP) bench --soak 30

images: setup ## build every images/*/Dockerfile with podman (base made with mmdebstrap when no registry answers)
	@bash scripts/images.sh

K8S := PYTHONPATH=cluster $(VENV)/bin/python -m localk8s

k8s-up: images ## a one-node Kubernetes under .run/k8s/ with spark-operator and the chart installed
	@$(K8S) up

k8s-down: ## stop the local cluster and every container it ran
	@if [ -x $(VENV)/bin/python ]; then $(K8S) down; fi

k8s-status: ## which processes of the local cluster run
	@$(K8S) status

k8s-sql: ## stockpulse sql --json in the cluster: make k8s-sql Q="SELECT COUNT(*) AS n FROM stock_operation"
	@$(K8S) sql "$(Q)"

clean: down k8s-down ## remove run state (.run/)
	@rm -rf .run
