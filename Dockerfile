# syntax=docker/dockerfile:1
# Build: dependencies from uv.lock into /app/.venv, then only the project and its venv are copied
# into a slim runtime image that runs as a non-root user, with the dashboard built by Node.
FROM python:3.11-slim AS build
# The same uv as the lock file's dev group, from PyPI.
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY app ./app
COPY domain ./domain
COPY graphql_schema ./graphql_schema
COPY resolvers ./resolvers
COPY migrations ./migrations
COPY alembic.ini ./
RUN uv sync --locked --no-dev

# The dashboard and the offline GraphiQL page (web/dist), from web/package-lock.json. Only the
# sources are copied: a developer's web/node_modules and web/dist never enter the image.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/index.html web/graphiql.html web/tsconfig.json web/vite.config.ts ./
COPY web/src ./src
COPY web/graphiql ./graphiql
RUN npm run build

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 stockql
WORKDIR /app
COPY --from=build --chown=stockql:stockql /app /app
# Beside the app package, where the server looks by default: the project is installed
# editable (/app/app), so web/dist resolves to /app/web/dist.
COPY --from=web /web/dist /app/web/dist
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    STOCKQL_HOST=0.0.0.0 \
    STOCKQL_PORT=8000
USER stockql
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
ENTRYPOINT ["stockql"]
CMD ["serve"]
