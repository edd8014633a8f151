"""Recipes that produce judgenet's shipped artifacts (the package never imports this)."""
