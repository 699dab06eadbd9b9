"""Talking to OpenAI: catalog of models and prices, request builders, batch toolkit."""
