"""The HTTP service: thin routes that validate, authenticate, start or read a job."""
