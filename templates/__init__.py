__doc__ = "Built-in templates."
