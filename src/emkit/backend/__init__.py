"""The few array operations that differ between backends, and the data sources EM reads."""
