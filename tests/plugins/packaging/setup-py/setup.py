from setuptools import setup

setup(name="cjm-pkg-setup-py", version="1.2.3", packages=["cjm_pkg_setup_py"], install_requires=["six"])
