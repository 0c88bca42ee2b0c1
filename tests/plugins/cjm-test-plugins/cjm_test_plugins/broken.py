"""A plugin module that fails at import, as a plugin with a missing dependency does."""

import cjm_test_plugins_missing_dependency  # noqa: F401


class Broken:
    pass
