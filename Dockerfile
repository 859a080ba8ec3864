# The r1-verifiers toolkit image: `docker run IMAGE score in.jsonl --config r1.yaml -o out.jsonl`.
# Where no registry is reachable, pass a locally built base: --build-arg BASE=r1-verifiers/debian-python:bookworm
ARG BASE=python:3.12-slim
FROM ${BASE}
WORKDIR /app
COPY pyproject.toml README.md ./
COPY verifiers ./verifiers
COPY sandboxes ./sandboxes
COPY examples ./examples
RUN python3 -m pip install --no-cache-dir . \
 && useradd --create-home --uid 10001 verifier
USER verifier
ENTRYPOINT ["verifiers"]
CMD ["--help"]
