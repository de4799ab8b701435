"""Adapters: the edges that talk to AWS (DynamoDB, Chime SDK Voice) on behalf of the domain."""
