"""Dispatch: grading jobs to runners through Dask (the coordinator's client, the workers' side)."""
