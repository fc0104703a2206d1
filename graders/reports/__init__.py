"""Grade exports and class reports, read from the gradebook and the grading records."""
