def get_plugin_metadata() -> dict:
    return {"name": "cjm-pkg-flit-core", "version": "1.2.3", "category": "testing",
            "interface": "cjm_docker.interface.PluginInterface",
            "module": "cjm_pkg_flit_core", "class": "Plugin"}
