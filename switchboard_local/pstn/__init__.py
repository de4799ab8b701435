"""The PSTN Audio side of Amazon Chime SDK: the call simulator, its response schema, scripted calls."""
