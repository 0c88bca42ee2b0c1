"""Names of every environment variable cjm-docker reads or sets, read at call time."""

# Host side: configuration (lowest to highest: cjm.yaml < CJM_* variables < CLI flags).
CONFIG_FILE = "CJM_CONFIG"                # path of cjm.yaml
DATA_DIR = "CJM_DATA_DIR"                 # data root: manifests/, logs/, data/
MODELS_DIR = "CJM_MODELS_DIR"             # shared model cache, mounted into every container
RUNTIME_DIR = "CJM_RUNTIME_DIR"           # per-container runtime folders (sockets, tokens, leases)
TRANSPORT = "CJM_TRANSPORT"               # "auto" (default: per engine), "unix" or "tcp"
GPU_MODE = "CJM_GPU_MODE"                 # "auto" (default), "runtime" or "cdi"
REGISTRY_MIRROR = "CJM_REGISTRY_MIRROR"   # prefix for pulled base images, e.g. "mirror.example:5000/"
CA_CERTS = "CJM_CA_CERTS"                 # extra CA certificates (os.pathsep-separated paths)
PIP_INDEX_URL = "CJM_PIP_INDEX_URL"
PIP_EXTRA_INDEX_URL = "CJM_PIP_EXTRA_INDEX_URL"
BOOTSTRAP = "CJM_BOOTSTRAP"               # "auto" | "never" | "always"
DEBIAN_MIRROR = "CJM_DEBIAN_MIRROR"
STATE_DIR = "CJM_STATE_DIR"               # machine state for gc: data dirs, build journals
LEASE_TIMEOUT = "CJM_LEASE_TIMEOUT"       # seconds a worker outlives its silent host

# Standard proxy variables, passed through to builds when set on the host.
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")

# Inside containers: what plugins see (same meaning as in cjm-plugin-system).
PLUGIN_DATA_ROOT = "CJM_DATA_DIR"          # parent of the plugin's own data folder
PLUGIN_DATA_DIR = "CJM_PLUGIN_DATA_DIR"    # the plugin's own data folder (mounted, persistent)
PLUGIN_MODELS_DIR = "CJM_MODELS_DIR"
WORKER_TOKEN_FILE = "CJM_TOKEN_FILE"       # path of the token file: never the token itself
WORKER_MODULE = "CJM_PLUGIN_MODULE"        # set in the image by the manifest stage
WORKER_CLASS = "CJM_PLUGIN_CLASS"
WORKER_SOCKET = "CJM_WORKER_SOCKET"
WORKER_PORT = "CJM_WORKER_PORT"
WORKER_LEASE_FILE = "CJM_LEASE_FILE"
WORKER_LEASE_TIMEOUT = "CJM_LEASE_TIMEOUT"
