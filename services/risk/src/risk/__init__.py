"""The risk engine (gRPC): decisions in milliseconds, stored with their inputs for audit."""
