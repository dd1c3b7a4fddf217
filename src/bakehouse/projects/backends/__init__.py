"""Where a project's command executes: ``local`` (a child process) or ``kubernetes`` (a batch/v1 Job).

Both are registered in :data:`bakehouse.plugins.project_backends` so that third parties can add more.
"""

from bakehouse import plugins

if "local" not in plugins.project_backends:
    plugins.project_backends.register("local", "bakehouse.projects.backends.local:LocalBackend")
if "kubernetes" not in plugins.project_backends:
    plugins.project_backends.register("kubernetes", "bakehouse.projects.backends.kubernetes:KubernetesBackend")
