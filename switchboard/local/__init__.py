"""Local-stack tooling (template reader, PSTN Audio response schema). Never imported by a Lambda."""
