"""Deployments (api.md §15): scheduled agents, their runs, and the scheduler that fires them exactly once."""
