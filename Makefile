# Thin verbs over uv; see README.md.
UV ?= uv

.PHONY: run worker test lint fmt typecheck migrate schema bench deploy-check web web-dev

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

# For front-end work, with your own Node.js 20.19+ (installs build the pages by themselves,
# with Node.js from PyPI: see hatch_build.py). `web` rebuilds the dashboard and the offline
# GraphiQL page into app/web_dist (served at / and GET /graphql, no restart needed); `web-dev`
# serves them from source at http://localhost:5173 with /graphql passed to `make run`.
web:
	cd web && npm ci && npm run build

web-dev:
	cd web && npm ci && npm run dev

bench:
	$(UV) run python bench/history_bench.py
	$(UV) run python bench/latest_price_load.py

# The Kubernetes manifests against the pinned Kubernetes version, then against the app and
# docker-compose.yml (no cluster, no Docker daemon).
deploy-check:
	$(UV) run deploy/check-manifests
	$(UV) run pytest -q tests/unit/test_deploy_manifests.py tests/unit/test_docker_compose.py
