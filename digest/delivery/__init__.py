"""The machinery of a send run: claims (who owns which delivery rows) and the runner (threads,
retries, rate, group commits). digest/send.py is the orchestrator that uses them."""
