# syntax=docker/dockerfile:1
# cjm-docker 0.0.0-golden: image of plugin "golden-python" (python flavor), written as a BuildKit Dockerfile.
# `cjm-ctl install-all` builds these same steps itself (the classic builder has no cache mounts):
# each runs as root in a container of the image below it, with uv's package cache (Docker volume
# "cjm-package-cache") at /cjm-cache and the step's files read-only at /cjm-build, and is committed
# as one layer. After introspection one more commit adds USER 10001, the entry variables and the
# io.cjm.* labels (manifest, hash, lock): no layer. Generated: do not edit.
#
# Locked packages (18):
#   annotated-types==0.8.0
#   anyio==4.16.0
#   certifi==2026.10.19.post1
#   charset-normalizer==3.5.3
#   cjm-graph-plugin-system==0.0.1
#   fastapi==0.110.0
#   h11==0.16.0
#   httpcore==1.0.9
#   httpx==0.28.1
#   idna==3.20
#   numpy==1.26.4
#   pydantic-core==2.50.5
#   pydantic==2.14.4
#   requests==2.34.2
#   starlette==0.36.3
#   typing-extensions==4.16.0
#   typing-inspection==0.4.5
#   urllib3==2.8.0
FROM cjm-runtime/py3.11:0123456789abcdef

# stack: shared stack: numpy==1.26.4 (key ec022bc311d250ea)
RUN --mount=type=bind,source=stack,target=/cjm-build --mount=type=cache,target=/cjm-cache \
    set -eu; /opt/cjm/uv/bin/uv pip install --python /opt/venv/bin/python --no-deps --compile-bytecode --link-mode copy --cache-dir /cjm-cache --index-url https://pypi.internal/simple -r /cjm-build/stack.txt

# system: system packages: file git libsndfile1 (key 9c0c2148dd7ffe97)
RUN --mount=type=cache,target=/cjm-cache \
    set -eu; apt-get update; DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends file git libsndfile1; apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin

# deps: 11 locked package(s) (key 58179a195955ceaf)
RUN --mount=type=bind,source=deps,target=/cjm-build --mount=type=cache,target=/cjm-cache \
    set -eu; export TORCH_CUDA_ARCH_LIST=8.0; /opt/cjm/uv/bin/uv pip install --python /opt/venv/bin/python --no-deps --compile-bytecode --link-mode copy --cache-dir /cjm-cache --index-url https://pypi.internal/simple -r /cjm-build/requirements.txt

# code: plugin code (4 files) (key 1736a8c775cfc3a9)
RUN --mount=type=bind,source=code,target=/cjm-build --mount=type=cache,target=/cjm-cache \
    set -eu; export TORCH_CUDA_ARCH_LIST=8.0; mkdir -p /tmp/cjm-src/libs; cp -R /cjm-build/plugin /tmp/cjm-src/plugin; /opt/cjm/uv/bin/uv pip install --python /opt/venv/bin/python --no-deps --compile-bytecode --link-mode copy --cache-dir /cjm-cache --index-url https://pypi.internal/simple /tmp/cjm-src/plugin; rm -rf /tmp/cjm-src
