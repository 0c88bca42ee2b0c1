"""The image side: render a Dockerfile per plugin, build it, describe the plugin, tag it.

    bases.py          base image aliases and where they come from (pure)
    runtime.py        the cjm_docker files and pinned packages baked into every image
    runtime_plan.py   the shared worker runtime image every python-flavor plugin starts FROM
    conda_sources.py  where a build gets its conda packages: channels as the build reaches them
    dockerignore.py   a plugin folder's .dockerignore: what stays out of its build context
    context.py        build context files, deterministic tar, content hash
    lock.py           a plugin's environment resolved by uv on the host, stored per plugin
    layers.py         a python-flavor plugin image as layers on the shared runtime (pure)
    render.py         spec + settings -> BuildPlan (pure; golden-tested)
    prepare.py        what would be built, under which tag, before anything is built
    steps.py          run a plugin's layer steps on the engine, each found again by its key
    describe.py       run a built image once, turn its answer into a manifest
    build.py          ImageBuilder: the atomic install of one plugin
    bootstrap.py      setup-runtime: pull, or debootstrap and import, the base images
    inventory.py      installed plugins: manifests, image status, removal
    sizes.py          estimate-size
    state.py          this machine's state that `cjm-ctl gc` reads: the recorded data dirs
    build_journal.py  each classic build's intermediate containers and who owns them
    gc.py             gc --images: remove the images that no manifest needs any more
    introspect.py     runs INSIDE images (standard library only)

This ``__init__`` imports nothing, because ``introspect.py`` is baked into images without the
host's dependencies.
"""
