"""Real servers for the tests: Debian packages installed on demand, and
background processes started, awaited and stopped with their logs at hand."""
