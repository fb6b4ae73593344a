"""BOSS simulator: the realistic counterpart of the operator's billing system (never imported by services)."""
