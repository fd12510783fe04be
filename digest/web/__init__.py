"""Web apps: the public site (`digest serve`) and the organizers' preview, on shared parts (common.py)."""
