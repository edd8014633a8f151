"""judgenet.evaluation."""
