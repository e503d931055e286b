"""Running the stock git binary: commands, streamed processes, tree reads
and the threads that feed git while a request is served.
"""
