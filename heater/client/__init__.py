"""The client side of Heater's REST API, as the image commands use it:
an HTTP client that streams builds both ways, its errors and a progress bar."""
