# stockpulse: the two commands are `make demo` and `make test`; the rest are steps of them.
SHELL := /bin/bash
VENV := .venv
SP := $(VENV)/bin/stockpulse

.PHONY: setup up down status test lint demo bench soak clean help images k8s-up k8s-down k8s-status k8s-sql

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

test: setup lint ## every test: unit, integration (real Kafka, gunicorn, Spark), deploy
	@$(VENV)/bin/pytest -q -p no:cacheprovider --durations=40

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
