"""Pure domain of the grievance engine: vocabulary, commands, the state machine, privacy.

Nothing here touches a database, Prefect, Jinja or the clock: every instant is passed in as `at`.
"""
