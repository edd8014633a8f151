"""judgenet.predictors."""
