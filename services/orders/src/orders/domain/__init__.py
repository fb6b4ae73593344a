"""Pure domain of the order core: models, the state machine, accounts and the catalog. No I/O."""
