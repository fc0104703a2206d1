"""Authoring: instructor notebooks in one language, releases, answer keys, self-validation, the demo class."""
