"""The scripted HTTP server (``tests/scripted_http.py``) as fixtures for the artifact repository's tests."""

from scripted_http import script, scripted_server  # noqa: F401 - the fixtures, shared with the transport tests
