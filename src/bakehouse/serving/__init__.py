"""The model scoring server (``bakehouse models serve``): its own small ASGI app, no tracking server inside.

``create_scoring_app(holder)`` builds the app; ``ModelHolder`` owns the served model and swaps it atomically.
Nothing is imported here so that ``import bakehouse.serving.watch`` stays cheap.
"""
