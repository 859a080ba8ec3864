# The r1-verifiers toolkit image: `docker run IMAGE score in.jsonl --config r1.yaml -o out.jsonl`.
# Code rows: the local sandbox cannot run in here (no bubblewrap, no user namespaces under Docker's
# seccomp profile); grade them with the docker backend through the host's socket (README):
#   docker run -v /var/run/docker.sock:/var/run/docker.sock --group-add $(stat -c %g /var/run/docker.sock) \
#       -v $PWD/examples:/data IMAGE score /data/data/code.jsonl --config /data/r1_docker.yaml -o /tmp/out.jsonl
# Where no registry is reachable, pass a locally built base (`verifiers sandbox build` makes one):
#   docker build --build-arg BASE=r1-verifiers/debian-python:bookworm -t r1-verifiers .
ARG BASE=python:3.12-slim
FROM ${BASE}
WORKDIR /app
# Debian's own python3 (the local base) lacks pip and venv; the python images have both.
RUN if ! python3 -c "import ensurepip" 2>/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3-venv python3-pip \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && python3 -m venv /opt/r1-verifiers
COPY pyproject.toml README.md ./
COPY verifiers ./verifiers
COPY sandboxes ./sandboxes
COPY examples ./examples
RUN /opt/r1-verifiers/bin/pip install --no-cache-dir . \
 && useradd --create-home --uid 10001 verifier
ENV PATH=/opt/r1-verifiers/bin:$PATH
USER verifier
ENTRYPOINT ["verifiers"]
CMD ["--help"]
