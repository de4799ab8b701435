"""Domain model: forward rules, the call flow, call records. No boto3, Slack or PSTN Audio JSON here."""
