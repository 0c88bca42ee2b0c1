"""The ``io.cjm.*`` label namespace: everything cjm-docker creates carries these.

`cjm-ctl ps` and `cjm-ctl gc` find containers by them; images carry their manifest in one.
"""

PREFIX = "io.cjm"

MANAGED = f"{PREFIX}.managed"            # "true" on every image and container we create
PLUGIN = f"{PREFIX}.plugin"              # plugin name (plugins.yaml name on images, manifest name on containers)
SPEC_NAME = f"{PREFIX}.spec"              # the plugins.yaml name (containers; the other name a user types)
SPEC_HASH = f"{PREFIX}.hash"             # content hash of everything that went into the image
VERSION = f"{PREFIX}.version"            # cjm_docker version that built/started it
FLAVOR = f"{PREFIX}.flavor"              # "python" or "micromamba"
MANIFEST = f"{PREFIX}.manifest"          # the manifest JSON (images)
ROLE = f"{PREFIX}.role"                  # "plugin", "base", "runtime", "stack", "layer", "build", "introspect", "commit"
ROLE_PLUGIN = "plugin"                   # a worker (images of plugins carry it too)
ROLE_INTROSPECT = "introspect"           # the one-off container that describes a new image
ROLE_COMMIT = "commit"                   # the never-started helper of the final image commit
ROLE_BUILD = "build"                     # a build step's container (committed as one layer)
PYTHON = f"{PREFIX}.python"              # X.Y of runtime and stack images
STEP = f"{PREFIX}.step"                  # a build step's key on the image it committed (layer cache)
NAMESPACE = f"{PREFIX}.namespace"        # the repository prefix an image belongs to (gc --images scope)
LOCK = f"{PREFIX}.lock"                  # the plugin's resolved packages, "name==version" lines

# Containers only: who owns it, so gc can tell a dead host's orphan from a live host's worker.
OWNER_HOST = f"{PREFIX}.owner.host"      # hostname of the owning host process
OWNER_PID = f"{PREFIX}.owner.pid"        # its pid
OWNER_STARTED = f"{PREFIX}.owner.started"  # its process start time (beats pid reuse)
SESSION = f"{PREFIX}.session"            # one id per PluginManager
RUNTIME_DIR = f"{PREFIX}.runtime_dir"    # the container's runtime folder on the host
