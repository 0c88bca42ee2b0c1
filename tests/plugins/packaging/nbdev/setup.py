"""nbdev's setup.py, shortened: everything comes from settings.ini."""
from configparser import ConfigParser

import setuptools

config = ConfigParser(delimiters=["="])
config.read("settings.ini", encoding="utf-8")
cfg = config["DEFAULT"]

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    packages=setuptools.find_packages(),
    install_requires=cfg.get("requirements", "").split(),
    python_requires=">=" + cfg["min_python"],
)
