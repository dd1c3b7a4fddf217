"""Where a project's command executes: ``local`` (a child process) or ``kubernetes`` (a batch/v1 Job).

Both are registered in :data:`bakehouse.plugins.project_backends` (by name, lazily) so that third parties
can add more through the ``bakehouse.project_backend`` entry point group.
"""
