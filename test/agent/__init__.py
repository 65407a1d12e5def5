"""The agent's tests (unittest): real asyncio programs under `python -m taskscope run`."""
