"""The sandbox: the warm kernel inside it, the runner that drives it, its backends and limits, the wire.

Kept free of imports: `python -m graders.sandbox.kernel` starts inside the sandbox with this package.
"""
