# stockpulse: the two commands are `make demo` and `make test`; the rest are steps of them.
SHELL := /bin/bash
VENV := .venv
SP := $(VENV)/bin/stockpulse

.PHONY: setup up down status test lint demo bench clean help

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

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
	@$(VENV)/bin/pytest -q -p no:cacheprovider

demo: setup ## the whole pipeline end to end, then the report
	@$(SP) demo

bench: setup ## the benchmark; figures to .run/bench.json
	@$(SP) bench

clean: down ## remove run state (.run/)
	@rm -rf .run
