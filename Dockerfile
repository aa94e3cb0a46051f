# Doodle Party gateway (and worker: same image, different command).
#   docker build -t doodle-party .
#   docker run -p 8765:8765 -e REDIS_URL=redis://redis:6379/0 doodle-party
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The CPU build of torch (the default PyPI wheel on Linux is the multi-GB CUDA build).
RUN pip install --prefix=/install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
COPY pyproject.toml README.md ./
COPY game ./game
COPY inference ./inference
COPY server ./server
RUN pip install --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 doodle
# By number: Kubernetes' runAsNonRoot can only check a numeric user.
USER 10001
WORKDIR /home/doodle
ENV DOODLE_HOST=0.0.0.0 DOODLE_PORT=8765 DOODLE_LOG_FORMAT=json PYTHONUNBUFFERED=1
EXPOSE 8765
# Exec form: no shell in between to swallow signals or mangle the quotes.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8765/healthz').status != 200)"]
# SIGTERM closes sockets with 1001; rooms stay in Redis and players resume on another gateway.
STOPSIGNAL SIGTERM
ENTRYPOINT ["doodle-party"]
CMD ["serve"]
