"""judgenet.features."""
