# syntax=docker/dockerfile:1
# Build: dependencies from uv.lock into /app/.venv, then the project, whose install builds the
# dashboard and the offline GraphiQL page (hatch_build.py, with Node.js from PyPI: the same path
# as `uv run stockql serve` in a checkout, no Node.js stage of its own). Only the project and its
# venv are copied into a slim runtime image that runs as a non-root user.
FROM python:3.11-slim AS build
# The same uv as the lock file's dev group, from PyPI.
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md hatch_build.py ./
RUN uv sync --locked --no-dev --no-install-project
COPY app ./app
COPY domain ./domain
COPY graphql_schema ./graphql_schema
COPY resolvers ./resolvers
COPY migrations ./migrations
COPY alembic.ini ./
# The web sources only: a developer's web/node_modules and app/web_dist never enter the image.
COPY web/package.json web/package-lock.json web/index.html web/graphiql.html web/tsconfig.json web/vite.config.ts ./web/
COPY web/src ./web/src
COPY web/graphiql ./web/graphiql
# An image without its dashboard is a broken release: here a failed web build fails the build
# (elsewhere it only leaves / explaining what happened). The project is installed editable, so
# the build lands in /app/app/web_dist, where the server looks by default. Then the web
# sources and their node_modules go: the runtime needs only the build.
RUN rm -rf app/web_dist \
    && STOCKQL_WEB_BUILD=required uv sync --locked --no-dev \
    && test -f app/web_dist/index.html -a -f app/web_dist/graphiql.html \
    && rm -rf web

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 stockql
WORKDIR /app
COPY --from=build --chown=stockql:stockql /app /app
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    STOCKQL_HOST=0.0.0.0 \
    STOCKQL_PORT=8000
USER stockql
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
ENTRYPOINT ["stockql"]
CMD ["serve"]
