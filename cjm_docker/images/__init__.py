"""The image side: render a Dockerfile per plugin, build it, describe the plugin, tag it.

    bases.py       base image aliases and where they come from (pure)
    runtime.py     the cjm_docker files and pinned packages baked into every image
    context.py     build context files, deterministic tar, content hash
    render.py      spec + settings -> BuildPlan (pure; golden-tested)
    describe.py    run a built image once, turn its answer into a manifest
    build.py       ImageBuilder: the atomic install of one plugin
    bootstrap.py   setup-runtime: pull, or debootstrap and import, the base images
    inventory.py   installed plugins: manifests, image status, removal
    sizes.py       estimate-size
    introspect.py  runs INSIDE images (standard library only)

This ``__init__`` imports nothing, because ``introspect.py`` is baked into images without the
host's dependencies.
"""
