"""Git smart HTTP: the WSGI app that streams the stock git binary's
upload-pack and receive-pack.
"""
