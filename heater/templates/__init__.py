"""Template content: bounded YAML loading, HOT parsing, heater.yaml,
validation before any ref moves, releasing versions; the Templates service.
"""
