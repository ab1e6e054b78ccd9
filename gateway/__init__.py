"""The gate: the one HTTP door in front of the Prefect UI and API (login, sessions, the proxy);
an edge like cli/ and flows/, calling the service layer."""
