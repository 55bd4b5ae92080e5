"""The pure Matrix core: rules and formats with no I/O and no framework.

Everything above this package (persistence, tasks, web) leans on it; it leans on nothing of ours.
"""
