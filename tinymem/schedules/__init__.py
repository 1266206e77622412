"""Schedules: transformations of the IR that lower the memory peak.

Each schedule is a pure function from a Model to a new Model. The explorer
measures the result with the same planner `profile` uses, and the writer
serialises that same Model, so a prediction and its file cannot disagree.
"""
