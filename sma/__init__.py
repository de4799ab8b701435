"""PSTN Audio (SIP media application) handler: renders call-flow decisions as PSTN Audio actions."""
