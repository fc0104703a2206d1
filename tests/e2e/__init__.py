"""Browser tests against a real JupyterHub."""
