"""Sending on a schedule: APScheduler cron jobs, a catch-up policy, one scheduler per database.

policy.py   pure decisions: what is due after downtime ("now" passed in; cron is digest/cron.py)
lock.py     the single-instance lock row with a heartbeat
state.py    per-cadence memory: handled_until and the last outcome
runs.py     one run: plan, send through the delivery log, record
service.py  the scheduler process, in order: lock, finish, catch up, schedule, stop
listing.py  what `digest scheduler list` shows
"""
