"""judgenet.world."""
