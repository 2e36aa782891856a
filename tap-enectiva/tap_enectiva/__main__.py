"""``python -m tap_enectiva``: the same CLI as the ``tap-enectiva`` script."""

from tap_enectiva.tap import TapEnectiva

TapEnectiva.cli()
