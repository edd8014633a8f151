"""judgenet.labels."""
