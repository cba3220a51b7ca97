# Thin verbs over uv; see README.md.
UV ?= uv

.PHONY: run worker test lint fmt typecheck migrate schema bench

run:
	$(UV) run stockql serve

worker:
	$(UV) run stockql worker

test:
	$(UV) run pytest

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

fmt:
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

migrate:
	$(UV) run stockql migrate

schema:
	$(UV) run stockql schema --output graphql_schema/schema.graphql

bench:
	$(UV) run python bench/history_bench.py
	$(UV) run python bench/latest_price_load.py
