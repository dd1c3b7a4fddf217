from bakehouse.version import __version__
