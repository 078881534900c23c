# The service as one image: the wheel and its locked dependencies in a virtual environment,
# run as an unprivileged user whose state (keys, SQLite, checkpoints) is the /data volume.
#   docker build -t provenance .
#   docker run -p 8000:8000 -v provenance-data:/data provenance    # then: flask init (below)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
# The locked, hash-checked dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN python -m venv /opt/provenance \
 && /opt/provenance/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/provenance/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY provenance ./provenance
COPY trials ./trials
COPY data/clindata ./data/clindata
RUN /opt/provenance/bin/pip wheel --no-cache-dir --no-deps -w /wheels . \
 && /opt/provenance/bin/pip install --no-cache-dir --no-deps /wheels/provenance-*.whl

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home provenance \
 && mkdir -p /data /witness /log-public /witness-public \
 && chown provenance:provenance /data /witness /log-public /witness-public \
 && chmod 0700 /data /witness
COPY --from=build /opt/provenance /opt/provenance
ENV PATH=/opt/provenance/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PROVENANCE_DATA_DIR=/data \
    PROVENANCE_HOST=0.0.0.0 \
    PROVENANCE_PORT=8000 \
    FLASK_APP=provenance.app
USER provenance
WORKDIR /data
EXPOSE 8000
# Ready: the database answers, the schema is current and the log's state is vouched for.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
# waitress reads each request whole before a thread sees it, so the port may face clients
# directly. Behind a buffering reverse proxy, several processes instead:
#   gunicorn -c python:provenance.web.gunicorn_conf --bind 0.0.0.0:8000 'provenance.app:create_app()'
CMD ["python", "-m", "provenance.front"]
