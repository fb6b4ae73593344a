"""Payment-provider simulator: refund APIs per payment method (never imported by services)."""
