"""Options that several commands share, declared once so they read and behave alike."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

PluginsOption = Annotated[Path | None, typer.Option(
    "--plugins", help="plugins.yaml (default: plugins_config from cjm.yaml, else ./plugins.yaml).")]
NoCacheOption = Annotated[bool, typer.Option("--no-cache", help="Rebuild every layer.")]
UpgradeOption = Annotated[bool, typer.Option(
    "--upgrade", help="Resolve the environments again to the newest allowed versions.")]
BuildVerboseOption = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Show every build step.")]
ReplaceOption = Annotated[bool, typer.Option(
    "--replace", help="Let a plugin take the name of one installed from elsewhere.")]
