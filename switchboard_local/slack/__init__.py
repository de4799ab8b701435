"""Slack, locally: the Web API stand-in, signed request builders, the terminal console, the bot server."""
