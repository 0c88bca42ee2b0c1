def get_plugin_metadata():
    return {"name": "golden-plugin", "module": "golden_plugin.plugin", "class": "GoldenPlugin"}
