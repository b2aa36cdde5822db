# The settlement service. Contracts are compiled in a Node stage (Foundry and solc come from npm),
# and only their artifacts are copied into the Python image.
FROM node:20.18.1-bookworm-slim AS contracts
WORKDIR /app/contracts
COPY contracts/package.json contracts/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY contracts/ ./
RUN ./tools/foundry forge build --quiet

FROM python:3.11.11-slim-bookworm
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SETTLEMENT_CONTRACTS_DIR=/app/contracts
COPY pyproject.toml README.md ./
COPY settlement/ settlement/
COPY robots/ robots/
RUN pip install --no-cache-dir . && useradd --system --uid 10001 settlement
COPY --from=contracts /app/contracts/out contracts/out
USER settlement
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --retries=10 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"
CMD ["settlement", "serve", "--host", "0.0.0.0", "--port", "8000"]
