"""judgenet.metrics."""
