# cjm-docker 0.0.0-golden: image of plugin "golden-rattler", rattler flavor. Generated: do not edit.
# Layers from the most stable to the most volatile: base, trust store + system packages,
# environment, worker runtime, plugin package. Proxy settings arrive as Docker's predefined
# build args (HTTP_PROXY, ...): RUN steps see them, the image does not keep them.
# `cjm-ctl install-all` finishes the image after introspecting it, in one final stage (no
# layer): USER 10001:10001, ENV CJM_PLUGIN_MODULE/CJM_PLUGIN_CLASS, LABEL io.cjm.hash and
# io.cjm.manifest. Every step costs a container commit, so the stable settings come early.
FROM cjm-docker/base-python:3.11
ARG PIP_INDEX_URL

# 1. Trust store (extra CAs, e.g. of a TLS-intercepting proxy), system packages, the user.
COPY cjm/certs/ /usr/local/share/ca-certificates/cjm/
RUN set -eu; \
    update-ca-certificates; \
    if ! id -u 10001 >/dev/null 2>&1; then \
        groupadd --gid 10001 cjm && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin cjm; \
    fi; \
    mkdir -p /home/cjm && chown 10001:10001 /home/cjm

# 2. Image settings (stable, so they stay cached).
LABEL io.cjm.flavor="rattler" io.cjm.managed="true" io.cjm.plugin="golden-rattler" io.cjm.role="plugin" io.cjm.version="0.0.0-golden"
ENV CONDA_PREFIX="/opt/venv" CURL_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt" PATH="/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" PIP_CERT="/etc/ssl/certs/ca-certificates.crt" PIP_DISABLE_PIP_VERSION_CHECK="1" PIP_NO_CACHE_DIR="1" PYTHONDONTWRITEBYTECODE="1" PYTHONUNBUFFERED="1" REQUESTS_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt" SSL_CERT_FILE="/etc/ssl/certs/ca-certificates.crt"
WORKDIR /home/cjm
CMD ["/opt/venv/bin/python", "-m", "cjm_docker.worker"]

# 3. Environment: a venv with the worker's pinned dependencies, then the plugin's dependencies.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check --no-input --no-color --progress-bar off fastapi==0.110.0 uvicorn==0.29.0 psutil==5.9.8 \
 && /opt/venv/bin/python -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'cjm_docker_runtime.pth').write_text('/opt/cjm/runtime\n')"
# Conda packages (rattler flavor): py-rattler, in a venv of its own that this step removes,
# solves the spec against its channels and links the packages into /opt/venv (Python itself is
# the base image's). Local channels came with the build context.
COPY cjm/conda/ /opt/cjm/conda/
RUN python3 -m venv /opt/cjm/rattler \
 && /opt/cjm/rattler/bin/python -m pip install --no-cache-dir --disable-pip-version-check --no-input --no-color --progress-bar off py-rattler==0.28.0 \
 && /opt/cjm/rattler/bin/python /opt/cjm/conda/install.py /opt/cjm/conda/request.json \
 && rm -rf /opt/cjm/rattler /opt/cjm/conda /tmp/cjm-rattler /root/.cache
RUN /opt/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check --no-input --no-color --progress-bar off inflection==0.5.1

# 4. Worker runtime: this host's cjm_docker, on the venv's path through a .pth file.
COPY cjm/runtime/ /opt/cjm/runtime/

# 5. The plugin package.
RUN /opt/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check --no-input --no-color --progress-bar off cjm-golden-plugin==1.2.0
