"""The heater command line: serve, tokens, reindex, cleanup and the image
client commands.
"""
