"""Running the stock git binary and reading its objects: commands, streamed
processes, tree and object reads, file locks, the identity Heater writes as,
and the threads that feed git while a request is served.
"""
