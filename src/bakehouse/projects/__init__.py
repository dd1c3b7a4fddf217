"""MLflow Projects, compatible and stricter: ``MLproject`` parsing, typed parameters, cached environments,
local and Kubernetes backends, grid sweeps.

Entry point for code: :func:`bakehouse.projects.runner.run_project` with a
:class:`~bakehouse.projects.runner.ProjectRunRequest`; for people: ``bakehouse run``. Nothing heavy is
imported here, so ``import bakehouse.projects`` stays cheap.
"""
