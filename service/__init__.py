"""The application layer: one module per capability (use cases, calendars, outbox, delivery,
watchdog sweep, demo data, engine configuration). Plain data in, plain data out; no Prefect.
"""
