"""The local platform: embedded infrastructure and every process under one supervisor (dev and tests)."""
