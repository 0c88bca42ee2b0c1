# cjm-docker 0.0.0-golden: the worker runtime for Python 3.11 on cjm-docker/base-python:3.11. Generated: do not edit.
# Built once and tagged cjm-runtime/py3.11:<hash>; every plugin image of this base
# and Python version starts FROM it, so these layers are on disk once however many plugins there are.
# Layers from the most stable to the most volatile: trust store + user, settings, uv, the worker's
# venv, the cjm_docker files (a change of this host's cjm_docker rebuilds only that last layer).
# Proxy settings arrive as Docker's predefined build args (HTTP_PROXY, ...): RUN steps see them,
# the image does not keep them.
FROM cjm-docker/base-python:3.11
ARG PIP_INDEX_URL

# 1. Trust store (extra CAs, e.g. of a TLS-intercepting proxy) and the user.
COPY cjm/certs/ /usr/local/share/ca-certificates/cjm/
RUN set -eu; \
    update-ca-certificates; \
    if ! id -u 10001 >/dev/null 2>&1; then \
        groupadd --gid 10001 cjm && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin cjm; \
    fi; \
    mkdir -p /home/cjm && chown 10001:10001 /home/cjm

# 2. Image settings (stable, so they stay cached; the labels come after the venv).
ENV CURL_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt" PATH="/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" PIP_CERT="/etc/ssl/certs/ca-certificates.crt" PIP_DISABLE_PIP_VERSION_CHECK="1" PYTHONDONTWRITEBYTECODE="1" PYTHONUNBUFFERED="1" REQUESTS_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt" SSL_CERT_FILE="/etc/ssl/certs/ca-certificates.crt" VIRTUAL_ENV="/opt/venv"
WORKDIR /home/cjm
CMD ["/opt/venv/bin/python", "-m", "cjm_docker.worker"]

# 3. uv from the package index (it installs every plugin's environment), then the worker's venv:
#    its dependencies pinned to the versions installed on the host that builds it.
COPY cjm/worker/ /opt/cjm/worker/
RUN set -eu; \
    python3 -m venv /tmp/uv-bootstrap; \
    /tmp/uv-bootstrap/bin/python -m pip install --no-cache-dir --disable-pip-version-check --no-input --progress-bar off --target /opt/cjm/uv uv==0.13.9; \
    rm -rf /tmp/uv-bootstrap; \
    /opt/cjm/uv/bin/uv venv --quiet --python "$(command -v python3)" /opt/venv; \
    /opt/cjm/uv/bin/uv pip install --python /opt/venv/bin/python --no-cache --compile-bytecode ${PIP_INDEX_URL:+--index-url "$PIP_INDEX_URL"} ${PIP_EXTRA_INDEX_URL:+--extra-index-url "$PIP_EXTRA_INDEX_URL"} -r /opt/cjm/worker/requirements.txt -c /opt/cjm/worker/constraints.txt; \
    /opt/venv/bin/python -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'cjm_docker_runtime.pth').write_text('/opt/cjm/runtime\n')"

LABEL io.cjm.managed="true" io.cjm.namespace="cjm-runtime" io.cjm.python="3.11" io.cjm.role="runtime" io.cjm.version="0.0.0-golden"
# 4. Worker runtime: this host's cjm_docker, on the venv's path through the .pth file.
COPY cjm/runtime/ /opt/cjm/runtime/
