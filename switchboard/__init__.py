"""switchboard: forward and transfer calls on Amazon Chime SDK SIP media applications from Slack."""

__version__ = "0.1.0"
