def get_plugin_metadata() -> dict:
    return {"name": "cjm-pkg-setup-cfg", "version": "1.2.3", "category": "testing",
            "interface": "cjm_docker.interface.PluginInterface",
            "module": "cjm_pkg_setup_cfg", "class": "Plugin"}
